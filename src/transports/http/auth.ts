import type http from "node:http";
import type { DB } from "../../store/db.js";
import { authenticateApiKey, LOCAL_WORKSPACE_ID } from "../../store/workspaces.js";
import { sendError } from "./respond.js";

/** Who is calling: the workspace a key acts for (key_id null in key-free loopback mode). */
export interface Caller {
  workspace_id: string;
  key_id: string | null;
}

export type AuthOutcome = { ok: true; caller: Caller } | { ok: false; reason: "missing" | "malformed" | "invalid" };

const REALM = 'realm="tenex-connectors"';

/**
 * Authenticate a request by its `Authorization: Bearer tnx_…` header. Read-only: a missing,
 * malformed, unknown or revoked key costs one indexed read and no write.
 * With `anonymousLocal` (key-free loopback mode) a request without the header acts for the
 * local workspace; a request that does send a key is still checked.
 */
export async function authenticateRequest(db: DB, req: http.IncomingMessage, opts: { anonymousLocal: boolean }): Promise<AuthOutcome> {
  const header = req.headers.authorization;
  if (header === undefined || header === "") {
    return opts.anonymousLocal
      ? { ok: true, caller: { workspace_id: LOCAL_WORKSPACE_ID, key_id: null } }
      : { ok: false, reason: "missing" };
  }
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m?.[1]) return { ok: false, reason: "malformed" };
  const auth = await authenticateApiKey(db, m[1]);
  if (!auth) return { ok: false, reason: "invalid" };
  return { ok: true, caller: { workspace_id: auth.workspace_id, key_id: auth.key_id } };
}

/** 401 with `WWW-Authenticate: Bearer` and a JSON error that says what to do. */
export function sendUnauthorized(res: http.ServerResponse, reason: "missing" | "malformed" | "invalid"): void {
  const message =
    reason === "missing"
      ? "An API key is required: send `Authorization: Bearer tnx_…`. An operator creates one with `tenex-connectors keys create --workspace NAME`."
      : reason === "malformed"
        ? "The Authorization header must be `Bearer tnx_…`."
        : "The API key is not valid: it is unknown or was revoked. Ask an operator for a new key.";
  const challenge = reason === "missing" ? `Bearer ${REALM}` : `Bearer ${REALM}, error="invalid_token"`;
  sendError(res, "unauthorized", message, { "www-authenticate": challenge });
}
