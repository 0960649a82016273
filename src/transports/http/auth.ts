import type http from "node:http";
import type { GrantDeps } from "../../grants/deps.js";
import { authenticateApiKey, LOCAL_WORKSPACE_ID } from "../../store/workspaces.js";
import { bearerChallenge, verifyAccessToken } from "./authorization/resource.js";
import { sendError } from "./respond.js";

/**
 * Who is calling: the workspace a key or an OAuth access token acts for. `key_id` is the API key's
 * id (null for a token, and in key-free loopback mode); `grant_id` is the OAuth grant behind a
 * token (null for a key).
 */
export interface Caller {
  workspace_id: string;
  key_id: string | null;
  grant_id?: string | null;
}

/** The credential a caller presented, as one id: sessions belong to it, the rate limit counts it. */
export function principalOf(caller: Caller): string | null {
  return caller.key_id ?? (caller.grant_id ? `oauth:${caller.grant_id}` : null);
}

export type AuthOutcome = { ok: true; caller: Caller } | { ok: false; reason: "missing" | "malformed" | "invalid" };

/**
 * Authenticate a request by its `Authorization: Bearer …` header: a workspace key (`tnx_…`) or an
 * access token this server issued to a remote MCP client for `resource`. Read-only: a missing,
 * malformed, unknown, revoked or expired credential costs one indexed read and no write.
 * With `anonymousLocal` (key-free loopback mode) a request without the header acts for the
 * local workspace; a request that does send a credential is still checked.
 */
export async function authenticateRequest(
  deps: Pick<GrantDeps, "db" | "vault" | "clock">,
  req: http.IncomingMessage,
  opts: { anonymousLocal: boolean; resource: () => string },
): Promise<AuthOutcome> {
  const header = req.headers.authorization;
  if (header === undefined || header === "") {
    return opts.anonymousLocal
      ? { ok: true, caller: { workspace_id: LOCAL_WORKSPACE_ID, key_id: null } }
      : { ok: false, reason: "missing" };
  }
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m?.[1]) return { ok: false, reason: "malformed" };
  const credential = m[1];
  if (credential.startsWith("tnx_")) {
    const auth = await authenticateApiKey(deps.db, credential);
    if (!auth) return { ok: false, reason: "invalid" };
    return { ok: true, caller: { workspace_id: auth.workspace_id, key_id: auth.key_id } };
  }
  const holder = await verifyAccessToken(deps, opts.resource(), credential);
  if (!holder) return { ok: false, reason: "invalid" };
  return { ok: true, caller: { workspace_id: holder.workspace_id, key_id: null, grant_id: holder.grant_id } };
}

/** 401 with `WWW-Authenticate: Bearer resource_metadata=…` (where a client learns to sign in) and a JSON error that says what to do. */
export function sendUnauthorized(res: http.ServerResponse, reason: "missing" | "malformed" | "invalid", issuer: string): void {
  const message =
    reason === "missing"
      ? "Sign in is required: an MCP client that supports OAuth signs in through this server (see the resource_metadata in WWW-Authenticate); " +
        "other clients send `Authorization: Bearer tnx_…`, a key an operator creates with `tenex-connectors keys create --workspace NAME`."
      : reason === "malformed"
        ? "The Authorization header must be `Bearer <token>`: an access token from this server's sign-in, or a `tnx_…` key."
        : "The key or access token is not valid: it is unknown, expired or was revoked. Sign in again, or ask an operator for a new key.";
  // RFC 6750 §3.1: no error code without credentials; invalid_request for a malformed header; invalid_token for a bad one.
  const error = reason === "missing" ? undefined : reason === "malformed" ? "invalid_request" : "invalid_token";
  sendError(res, "unauthorized", message, { "www-authenticate": bearerChallenge(issuer, error) });
}
