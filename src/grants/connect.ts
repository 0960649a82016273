/**
 * The connect link (issue 16, DESIGN.md "People"): `authorization_url` is `{base}/connect/{id}`,
 * a page of ours, never the provider's URL. The grant keeps the sha256 of the id and the
 * provider's authorization URL sealed by the vault; the URL leaves the server only as the
 * redirect answering the "Continue" post, which also binds the grant to that browser (a random
 * value in a short-lived HttpOnly cookie, its sha256 stored with the grant). The callback refuses
 * a state arriving without that binding (`binding_mismatch`), so a provider URL copied out of the
 * redirect and opened elsewhere does not complete. Reading the page (GET, HEAD, the detour through
 * /login) never uses the link up; only Continue does, once.
 */
import crypto from "node:crypto";
import { nowIso } from "../common/clock.js";
import { sha256Hex } from "../common/ids.js";
import { findConnectorRow } from "../store/connectors.js";
import { grantScopes } from "../store/grants.js";
import type { OAuthGrantRow } from "../store/schema.js";
import { emitChange, transition } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";
import type { GrantDeps } from "./deps.js";

export const CONNECT_PREFIX = "/connect/";

/** A connect page's path: the prefix and one segment. */
export function isConnectPath(path: string): boolean {
  return path.startsWith(CONNECT_PREFIX) && path.length > CONNECT_PREFIX.length && !path.slice(CONNECT_PREFIX.length).includes("/");
}
const ID_RE = /^[A-Za-z0-9_-]{43}$/;

/** The associated data of a grant's sealed authorization URL: bound to its row. */
export const authorizeAad = (stateHash: string) => `oauth_grants:${stateHash}:authorize`;

/** The server's base URL as browsers reach it: the redirect URI without `/oauth/callback`. */
export function publicBase(ctx: Pick<GrantDeps, "redirectUri">): string {
  return ctx.redirectUri.replace(/\/oauth\/callback$/, "");
}

/** A new connect link: the id (in the URL, never stored) and its hash (stored). */
export function newConnectLink(ctx: Pick<GrantDeps, "redirectUri">): { url: string; hash: string } {
  const id = crypto.randomBytes(32).toString("base64url");
  return { url: `${publicBase(ctx)}${CONNECT_PREFIX}${id}`, hash: sha256Hex(id) };
}

/** The base name of the cookie binding a grant to a browser (the transport adds `__Host-` over https). */
export function bindingCookieBase(connectIdHash: string): string {
  return `tnx_bind_${connectIdHash.slice(0, 16)}`;
}

/** What the connect page shows, and whether the link can still be used. */
export type ConnectView =
  | { kind: "unknown" }
  | {
      kind: "open" | "used" | "expired" | "settled";
      connector_id: string;
      workspace_id: string;
      workspace_name: string;
      provider: string;
      label: string;
      scopes: string[];
      requested_by: string | null;
      expires_at: string;
      /** The origin the Continue redirect goes to (the page's CSP allows the form to go there). */
      provider_origin: string | null;
    };

async function grantOf(ctx: GrantDeps, id: string): Promise<OAuthGrantRow | undefined> {
  if (!ID_RE.test(id)) return undefined;
  return ctx.db.selectFrom("oauth_grants").selectAll().where("connect_id_hash", "=", sha256Hex(id)).executeTakeFirst();
}

/** Read a connect link (never uses it up). */
export async function readConnectLink(ctx: GrantDeps, id: string): Promise<ConnectView> {
  const grant = await grantOf(ctx, id);
  if (!grant) return { kind: "unknown" };
  const row = await findConnectorRow(ctx.db, grant.connector_id);
  if (!row) return { kind: "unknown" };
  const ws = await ctx.db.selectFrom("workspaces").select("name").where("id", "=", grant.workspace_id).executeTakeFirst();
  const provider = ctx.catalog.list().find((p) => p.id === row.provider);
  let origin: string | null = null;
  try {
    if (grant.authorize_ciphertext) origin = new URL(ctx.vault.open(grant.authorize_ciphertext, authorizeAad(grant.state_hash))).origin;
  } catch {
    origin = null;
  }
  const kind =
    row.status !== "pending"
      ? "settled"
      : grant.used_at || grant.binding_hash
        ? "used"
        : Date.parse(grant.expires_at) <= ctx.clock()
          ? "expired"
          : "open";
  return {
    kind,
    connector_id: row.id,
    workspace_id: grant.workspace_id,
    workspace_name: ws?.name ?? grant.workspace_id,
    provider: provider?.def.name ?? row.provider,
    label: row.label,
    scopes: grantScopes(grant),
    requested_by: grant.requested_by,
    expires_at: grant.expires_at,
    provider_origin: origin,
  };
}

/**
 * "Continue": bind the grant to this browser (`bindingValue` goes into its cookie; its hash is
 * stored) and hand back the provider's authorization URL. Only once: a second Continue, or one
 * after expiry, gets the view instead.
 */
export async function continueConnectLink(
  ctx: GrantDeps,
  id: string,
  bindingValue: string,
): Promise<{ ok: true; url: string; cookie: string; expires_at: string } | { ok: false; view: ConnectView }> {
  const grant = await grantOf(ctx, id);
  if (!grant?.authorize_ciphertext || !grant.connect_id_hash) return { ok: false, view: await readConnectLink(ctx, id) };
  const bound = await ctx.db
    .updateTable("oauth_grants")
    .set({ binding_hash: sha256Hex(bindingValue) })
    .where("state_hash", "=", grant.state_hash)
    .where("binding_hash", "is", null)
    .where("used_at", "is", null)
    .where("expires_at", ">", nowIso(ctx))
    .executeTakeFirst();
  const row = await findConnectorRow(ctx.db, grant.connector_id);
  if (Number(bound.numUpdatedRows) !== 1 || row?.status !== "pending") return { ok: false, view: await readConnectLink(ctx, id) };
  ctx.log.info("connect link continued: grant bound to the browser", {
    connector_id: grant.connector_id,
    workspace_id: grant.workspace_id,
  });
  return {
    ok: true,
    url: ctx.vault.open(grant.authorize_ciphertext, authorizeAad(grant.state_hash)),
    cookie: bindingCookieBase(grant.connect_id_hash),
    expires_at: grant.expires_at,
  };
}

/** "Cancel": the grant ends (`error`, `consent_denied`) and its link is used up; false when it could not be cancelled any more. */
export async function cancelConnectLink(ctx: GrantDeps, id: string): Promise<boolean> {
  const grant = await grantOf(ctx, id);
  if (!grant) return false;
  const change = await writeTransaction(ctx.db, async (trx) => {
    const claimed = await trx
      .updateTable("oauth_grants")
      .set({ used_at: nowIso(ctx) })
      .where("state_hash", "=", grant.state_hash)
      .where("used_at", "is", null)
      .where("binding_hash", "is", null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return null;
    const row = await findConnectorRow(trx, grant.connector_id);
    if (row?.status !== "pending") return null;
    return transition(trx, ctx, row, {
      move: "settle",
      to: "error",
      reason: "consent_denied",
      detail: `The person cancelled on the connect page, so nothing was connected. Ask them whether they want to connect, then start again with start_connector_oauth (connector_id "${row.id}" keeps this connector).`,
      patch: { health: "unknown" },
      events: [{ type: "consent_denied", detail: "cancelled on the connect page" }],
    });
  });
  if (!change) return false;
  emitChange(ctx, change);
  return true;
}

/** Whether the binding cookie's value fits the grant (constant time). */
export function bindingMatches(grant: Pick<OAuthGrantRow, "binding_hash">, value: string | undefined): boolean {
  if (!grant.binding_hash || !value) return false;
  const a = Buffer.from(sha256Hex(value), "hex");
  const b = Buffer.from(grant.binding_hash, "hex");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
