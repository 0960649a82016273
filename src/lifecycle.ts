/**
 * A connector's life after the grant: test, refresh, update (label, settings, roles),
 * primaries and resolution, disable/enable, revoke and delete, and its event trail.
 * Every function takes the context and the calling workspace; another workspace's
 * connector is `not_found`.
 */
import { sql } from "kysely";
import { z } from "zod";
import { ROLES, type AccountFacts, type Provider, type Role, type TokenSet } from "./catalog.js";
import { getConnector, getConnectorRow, listConnectors, recordEvent, type ConnectorObject, type ListFilters } from "./connectors.js";
import { nowIso, type Context } from "./context.js";
import type { DB } from "./db/index.js";
import type { ConnectorRow } from "./db/schema.js";
import { writeTransaction } from "./db/write-transaction.js";
import { ConnectorError, isConnectorError } from "./errors.js";
import { expireAbandonedGrants } from "./grant-expiry.js";
import { readAccount, type AccountCheck } from "./health.js";
import { apiBaseUrl, testReadPath } from "./provider-api.js";
import { assertUsable, connectionView, getAccessToken, renewalOf, saveCheck, withCredential } from "./refresh.js";
import { checkRoles, parseSettings } from "./rules.js";
import { revokeTokens, type ProviderRevocation } from "./revocation.js";
import { readSecret } from "./secrets.js";

// ---------------------------------------------------------------------------------------------
// Events

export const eventSchema = z
  .object({
    type: z.string().describe("created, connected, refreshed, refresh_failed, tested, expired, disabled, enabled, revoked, updated, primary_set, …"),
    at: z.string().describe("When it happened (ISO 8601)"),
    detail: z.string().optional().describe("What happened, in words; never a secret"),
  })
  .strict();
export type ConnectorEventView = z.infer<typeof eventSchema>;

/** The connector's most recent events, newest first. */
export async function recentEvents(ctx: Pick<Context, "db">, workspaceId: string, connectorId: string, limit = 10): Promise<ConnectorEventView[]> {
  const rows = await ctx.db
    .selectFrom("connector_events")
    .select(["type", "detail", "created_at"])
    .where("workspace_id", "=", workspaceId)
    .where("connector_id", "=", connectorId)
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ type: r.type, at: r.created_at, ...(r.detail ? { detail: r.detail } : {}) }));
}

/** get_connector_status: the connector object plus its recent events. */
export async function connectorStatus(ctx: Context, workspaceId: string, connectorId: string): Promise<ConnectorObject & { recent_events: ConnectorEventView[] }> {
  await expireAbandonedGrants(ctx, workspaceId, [connectorId]);
  const connector = await getConnector(ctx.db, workspaceId, connectorId);
  return { ...connector, recent_events: await recentEvents(ctx, workspaceId, connectorId) };
}

/** list_connectors with the expiry filter: connectors whose access ends (or ended) within N days. */
export async function listConnectorsFor(
  ctx: Context,
  workspaceId: string,
  input: Omit<ListFilters, "expires_before"> & { expiring_within_days?: number | undefined },
): Promise<{ connectors: ConnectorObject[]; next_cursor: string | null }> {
  await expireAbandonedGrants(ctx, workspaceId);
  const { expiring_within_days, ...filters } = input;
  // An unknown provider id is a mistake to report, not a filter that matches nothing.
  if (filters.provider !== undefined) ctx.catalog.get(filters.provider);
  const expiresBefore = expiring_within_days === undefined ? undefined : new Date(ctx.clock() + expiring_within_days * 86_400_000).toISOString();
  return listConnectors(ctx.db, workspaceId, { ...filters, ...(expiresBefore ? { expires_before: expiresBefore } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Test and refresh

export interface TestResult {
  ok: boolean;
  latency_ms: number;
  checked_at: string;
  account: AccountFacts;
  error?: string;
}

function parseAccount(row: ConnectorRow): AccountFacts {
  try {
    return JSON.parse(row.account) as AccountFacts;
  } catch {
    return {};
  }
}

/**
 * The provider's lightest authenticated read. Refreshes first when the token is about to
 * expire, and once more after a 401. Updates health, last_checked_at and the account facts.
 */
export async function testConnector(ctx: Context, workspaceId: string, connectorId: string): Promise<TestResult> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  assertUsable(row, "test");
  const provider = ctx.catalog.get(row.provider);
  let check: AccountCheck;
  try {
    const { result } = await withCredential(ctx, row, (c) => readAccount(ctx, provider, c.view, c.token, c.auth_type), { probe: false });
    check = result;
  } catch (err) {
    if (!isConnectorError(err) || err.code === "not_found" || err.code === "internal") throw err;
    check = { ok: false, status: null, latency_ms: 0, account: {}, error: err.message };
  }
  const checkedAt = nowIso(ctx);
  await saveCheck(ctx, row, check, checkedAt);
  return {
    ok: check.ok,
    latency_ms: check.latency_ms,
    checked_at: checkedAt,
    account: check.ok ? check.account : parseAccount(row),
    ...(check.ok ? {} : { error: check.error ?? "the test read failed" }),
  };
}

export interface RefreshResult {
  refreshed: boolean;
  access_expires_at: string | null;
  detail: string;
  connector: ConnectorObject;
}

/** Refresh the access token now (single-flight with any refresh already running). */
export async function refreshConnector(ctx: Context, workspaceId: string, connectorId: string): Promise<RefreshResult> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  assertUsable(row, "refresh");
  const provider = ctx.catalog.get(row.provider);
  const name = provider.def.name;
  const done = async (refreshed: boolean, expiresAt: number | undefined, detail: string): Promise<RefreshResult> => ({
    refreshed,
    access_expires_at: expiresAt ? new Date(expiresAt * 1000).toISOString() : null,
    detail,
    connector: await getConnector(ctx.db, workspaceId, connectorId),
  });
  if (row.auth_type === "api_key") return done(false, undefined, `${name} API keys are not refreshed; they work until the person deletes them in ${name}.`);
  const stored = await readSecret(ctx, ctx.db, row.id);
  if (!stored || stored.secret.kind !== "oauth2") {
    throw new ConnectorError("invalid_state", `Connector ${row.id} has no stored tokens; connect the account again.`);
  }
  const tokens = stored.secret.tokens;
  switch (renewalOf(provider, tokens)) {
    case "non_expiring":
      return done(false, undefined, `${name} access tokens do not expire, so there is nothing to refresh.`);
    case "reconsent": {
      // getAccessToken marks the connector expired when its access already ended, and throws.
      const cred = await getAccessToken(ctx, row, { probe: false });
      const ends = cred.tokens?.expires_at;
      return done(
        false,
        ends,
        `${name} granted no refresh token, so access cannot be renewed here${ends ? `; it ends at ${new Date(ends * 1000).toISOString()}` : ""}. ` +
          `Before then, ask the person to consent again with start_connector_oauth (connector_id "${row.id}").`,
      );
    }
    case "refresh_token": {
      const cred = await getAccessToken(ctx, row, { force: true });
      const ends = cred.tokens?.expires_at;
      return done(true, ends, ends ? `New access token valid until ${new Date(ends * 1000).toISOString()}.` : `New access token issued (${name} does not say how long it lasts).`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Update, primaries, resolve

export interface UpdateInput {
  label?: string | undefined;
  /** Merged into the current settings; a null value removes that setting. */
  settings?: Record<string, unknown> | undefined;
  roles?: string[] | undefined;
}

interface UpdatePlan {
  patch: { label?: string; settings?: string; roles?: string };
  /** What changed, in words, for the event trail; empty when nothing changes. */
  changed: string[];
  /** The merged settings, when settings were given. */
  settings?: Record<string, unknown>;
  removedRoles: Role[];
}

/** The update applied to one version of the row; throws on input the provider refuses. */
function planUpdate(provider: Provider, row: ConnectorRow, input: UpdateInput): UpdatePlan {
  const plan: UpdatePlan = { patch: {}, changed: [], removedRoles: [] };
  if (input.label !== undefined) {
    const label = input.label.trim();
    if (label === "") throw new ConnectorError("invalid_input", "label cannot be empty.");
    if (label !== row.label) {
      plan.patch.label = label;
      plan.changed.push("label");
    }
  }
  if (input.settings !== undefined) {
    const merged: Record<string, unknown> = { ...(JSON.parse(row.settings) as Record<string, unknown>) };
    for (const [k, v] of Object.entries(input.settings)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    plan.settings = parseSettings(provider, merged);
    if (JSON.stringify(plan.settings) !== row.settings) {
      plan.patch.settings = JSON.stringify(plan.settings);
      plan.changed.push(`settings (${Object.keys(input.settings).join(", ")})`);
    }
  }
  if (input.roles !== undefined) {
    const roles = checkRoles(provider, input.roles);
    const before = JSON.parse(row.roles) as Role[];
    plan.removedRoles = before.filter((r) => !roles.includes(r));
    if (JSON.stringify(roles) !== row.roles) {
      plan.patch.roles = JSON.stringify(roles);
      plan.changed.push(`roles (${roles.join(", ") || "none"})`);
    }
  }
  return plan;
}

/**
 * What a stored API key was validated against: the provider's required settings (Sanity's project
 * and dataset) and where the test read goes (which also follows the API version). When this
 * changes, the key is checked again before the settings are saved.
 */
function keyCheckTarget(provider: Provider, settings: Record<string, unknown>): string {
  const view = { settings, token_extras: {}, env: provider.env };
  const required = provider.def.api_key?.required_settings ?? [];
  return JSON.stringify([required.map((k) => settings[k] ?? null), apiBaseUrl(provider, view), testReadPath(provider, view, "api_key")]);
}

/** Attempts before giving up when concurrent updates keep moving the settings a key was checked against. */
const UPDATE_ATTEMPTS = 3;

/**
 * Change a connector's label, settings (checked against the provider's schema) or roles.
 * Removing a role also removes the connector as primary for it. When an API-key connector's
 * settings change what its key was checked against (Sanity project, dataset, API version), the
 * key is checked against them first and the account facts come from that check.
 *
 * Concurrent updates of different fields all survive: the merge is done again on the current
 * row inside a write-locked transaction. If a concurrent update moved the settings the key was
 * checked against, the key is checked again.
 */
export async function updateConnector(ctx: Context, workspaceId: string, connectorId: string, input: UpdateInput): Promise<ConnectorObject> {
  for (let attempt = 1; ; attempt++) {
    const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
    const provider = ctx.catalog.get(row.provider);
    const plan = planUpdate(provider, row, input);
    if (plan.changed.length === 0) return getConnector(ctx.db, workspaceId, connectorId);

    // The network check happens outside the transaction; the transaction verifies it still applies.
    let checked: { target: string; check: AccountCheck } | undefined;
    const needsCheck = (current: ConnectorRow, next: UpdatePlan) =>
      current.auth_type === "api_key" &&
      next.settings !== undefined &&
      keyCheckTarget(provider, next.settings) !== keyCheckTarget(provider, JSON.parse(current.settings) as Record<string, unknown>);
    if (needsCheck(row, plan) && plan.settings) {
      const stored = await readSecret(ctx, ctx.db, row.id);
      if (stored?.secret.kind === "api_key") {
        const check = await readAccount(ctx, provider, { settings: plan.settings, token_extras: {}, env: provider.env }, stored.secret.api_key, "api_key");
        if (!check.ok) {
          throw new ConnectorError("provider_error", `The stored key does not work with the new settings: ${check.error ?? "the test read failed"}. Nothing was changed.`, {
            retryable: check.status === null,
          });
        }
        checked = { target: keyCheckTarget(provider, plan.settings), check };
      }
    }

    const outcome = await writeTransaction(ctx.db, async (trx) => {
      const current = await getConnectorRow(trx, workspaceId, connectorId);
      const p = planUpdate(provider, current, input);
      if (p.changed.length === 0) return "done" as const;
      let account: { account: string; health: "healthy"; last_checked_at: string } | undefined;
      if (needsCheck(current, p) && p.settings) {
        const still = checked && checked.target === keyCheckTarget(provider, p.settings);
        const hasKey = await trx.selectFrom("connector_secrets").select("connector_id").where("connector_id", "=", current.id).executeTakeFirst();
        if (!still && (checked || hasKey)) return "recheck" as const;
        if (checked) account = { account: JSON.stringify(checked.check.account), health: "healthy", last_checked_at: nowIso(ctx) };
      }
      await trx
        .updateTable("connectors")
        .set({ ...p.patch, ...account, updated_at: nowIso(ctx) })
        .where("id", "=", current.id)
        .where("workspace_id", "=", workspaceId)
        .execute();
      if (account) {
        // The key works with the new settings: the "test read failed" detail of a connected connector no longer applies.
        await trx.updateTable("connectors").set({ status_detail: null }).where("id", "=", current.id).where("status", "=", "connected").execute();
      }
      if (p.removedRoles.length > 0) {
        await trx.deleteFrom("primaries").where("connector_id", "=", current.id).where("role", "in", p.removedRoles).execute();
      }
      await recordEvent(trx, ctx, current, "updated", `changed ${p.changed.join("; ")}${account ? "; key checked against the new settings" : ""}`);
      return "done" as const;
    });
    if (outcome === "done") return getConnector(ctx.db, workspaceId, connectorId);
    if (attempt >= UPDATE_ATTEMPTS) {
      throw new ConnectorError("conflict", `Connector ${connectorId} was changed by someone else while its key was being checked; nothing was changed. Read it again and retry.`, {
        retryable: true,
      });
    }
  }
}

/**
 * Make a connector the workspace's primary for a role; the previous primary is demoted in the
 * same transaction. The connector must be connected and its provider must allow the role (it
 * is added to the connector's roles when missing).
 */
export async function setPrimaryConnector(ctx: Context, workspaceId: string, connectorId: string, role: string): Promise<ConnectorObject> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  const provider = ctx.catalog.get(row.provider);
  const [checked] = checkRoles(provider, [role]);
  const r = checked as Role;
  assertUsable(row, `make primary`);
  await ctx.db.transaction().execute(async (trx) => {
    // Write first, so the transaction holds the write lock before it reads (no lock upgrade across processes).
    await trx.updateTable("connectors").set({ updated_at: nowIso(ctx) }).where("id", "=", row.id).execute();
    const previous = await trx.selectFrom("primaries").select("connector_id").where("workspace_id", "=", workspaceId).where("role", "=", r).executeTakeFirst();
    await trx
      .insertInto("primaries")
      .values({ workspace_id: workspaceId, role: r, connector_id: row.id })
      .onConflict((oc) => oc.columns(["workspace_id", "role"]).doUpdateSet({ connector_id: row.id }))
      .execute();
    const current = await trx.selectFrom("connectors").select("roles").where("id", "=", row.id).executeTakeFirstOrThrow();
    const roles = JSON.parse(current.roles) as Role[];
    if (!roles.includes(r)) {
      await trx
        .updateTable("connectors")
        .set({ roles: JSON.stringify([...roles, r]), updated_at: nowIso(ctx) })
        .where("id", "=", row.id)
        .execute();
    }
    if (previous && previous.connector_id !== row.id) {
      await recordEvent(trx, ctx, { id: previous.connector_id, workspace_id: workspaceId }, "primary_removed", `${row.id} became the primary ${r}`);
    }
    if (previous?.connector_id !== row.id) {
      await recordEvent(trx, ctx, row, "primary_set", `primary ${r}${previous ? ` (was ${previous.connector_id})` : ""}`);
    }
  });
  return getConnector(ctx.db, workspaceId, connectorId);
}

function describeCandidate(r: Pick<ConnectorRow, "id" | "label" | "provider" | "status">): string {
  return `${r.id} ("${r.label}", ${r.provider}, ${r.status})`;
}

/** Which connector to use for a role: the primary, else the only connected one, else an error naming the candidates. */
export async function resolveConnector(ctx: Context, workspaceId: string, role: string, providerId?: string): Promise<ConnectorObject> {
  if (!(ROLES as readonly string[]).includes(role)) throw new ConnectorError("invalid_input", `Unknown role "${role}". Roles are: ${ROLES.join(", ")}.`);
  if (providerId !== undefined) ctx.catalog.get(providerId);
  const primary = await ctx.db
    .selectFrom("primaries")
    .innerJoin("connectors", "connectors.id", "primaries.connector_id")
    .selectAll("connectors")
    .where("primaries.workspace_id", "=", workspaceId)
    .where("primaries.role", "=", role)
    .executeTakeFirst();
  if (primary && (providerId === undefined || primary.provider === providerId)) {
    if (primary.status === "connected") return getConnector(ctx.db, workspaceId, primary.id);
    throw new ConnectorError(
      "invalid_state",
      `The primary ${role} connector ${describeCandidate(primary)} is not usable. ` +
        (primary.status === "disabled" ? "Enable it with enable_connector, " : "Ask the person to reconnect it, ") +
        "or make another connector primary with set_primary_connector.",
    );
  }
  let q = ctx.db
    .selectFrom("connectors")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .where(sql<boolean>`exists (select 1 from json_each(connectors.roles) where value = ${role})`);
  if (providerId !== undefined) q = q.where("provider", "=", providerId);
  const rows = await q.orderBy("seq", "desc").limit(51).execute();
  const connected = rows.filter((r) => r.status === "connected");
  const only = connected[0];
  if (connected.length === 1 && only) return getConnector(ctx.db, workspaceId, only.id);
  const scope = `${role}${providerId ? ` (${providerId})` : ""}`;
  if (connected.length === 0) {
    const others = rows.slice(0, 10).map(describeCandidate);
    throw new ConnectorError(
      "not_found",
      `No connected connector plays the role ${scope} in this workspace.` +
        (others.length ? ` Not usable: ${others.join("; ")}.` : " Connect one with start_connector_oauth or submit_connector_key."),
    );
  }
  throw new ConnectorError(
    "conflict",
    `${connected.length} connected connectors play the role ${scope} and none is primary: ${connected.slice(0, 10).map(describeCandidate).join("; ")}. ` +
      `Ask the person which one to use, then call set_primary_connector with that connector_id and role "${role}".`,
  );
}

// ---------------------------------------------------------------------------------------------
// Disable, enable, revoke, delete

function emit(ctx: Context, row: Pick<ConnectorRow, "id" | "workspace_id">, status: string): void {
  ctx.events.emit("change", { workspace_id: row.workspace_id, connector_id: row.id, status });
}

/**
 * A disabled connector keeps its secrets and roles but hands out no credentials. Read, decision
 * and write happen under one write lock, so a concurrent revoke or finishing callback is never
 * overwritten from a stale read.
 */
export async function disableConnector(ctx: Context, workspaceId: string, connectorId: string): Promise<ConnectorObject> {
  const row = await writeTransaction(ctx.db, async (trx) => {
    const current = await getConnectorRow(trx, workspaceId, connectorId);
    if (current.status === "disabled") return undefined;
    if (current.status === "revoked") throw new ConnectorError("invalid_state", `Connector ${current.id} was revoked; there is nothing to disable. Use delete_connector to remove it.`);
    await trx
      .updateTable("connectors")
      .set({ status: "disabled", status_before_disable: current.status, status_detail: `disabled (was ${current.status}); enable_connector makes it usable again`, updated_at: nowIso(ctx) })
      .where("id", "=", current.id)
      .execute();
    await recordEvent(trx, ctx, current, "disabled", `was ${current.status}`);
    return current;
  });
  if (row) emit(ctx, row, "disabled");
  return getConnector(ctx.db, workspaceId, connectorId);
}

/**
 * Undo disable_connector: connected again when its credentials are still good, otherwise expired
 * or error. Decided and written under one write lock (see disableConnector).
 */
export async function enableConnector(ctx: Context, workspaceId: string, connectorId: string): Promise<ConnectorObject> {
  const changed = await writeTransaction(ctx.db, async (trx) => {
    const row = await getConnectorRow(trx, workspaceId, connectorId);
    if (row.status === "connected") return undefined;
    if (row.status !== "disabled") {
      throw new ConnectorError("invalid_state", `Only a disabled connector can be enabled; ${row.id} is ${row.status}.${row.status_detail ? ` ${row.status_detail}` : ""}`);
    }
    const provider = ctx.catalog.get(row.provider);
    const stored = await readSecret(ctx, trx, row.id);
    const before = row.status_before_disable;
    let status: "connected" | "expired" | "error" | "pending" = "connected";
    let detail: string | null = null;
    if (before === "expired" || before === "error") {
      // Disabling did not fix what was wrong before.
      status = before;
      detail = `${before}: it was already ${before} when it was disabled. Ask the person to consent again with start_connector_oauth (connector_id "${row.id}").`;
    } else if (before === "pending") {
      status = "pending";
      detail = "waiting for the person to consent (the authorization link may have expired; start again with start_connector_oauth if so)";
    } else if (!stored) {
      status = "error";
      detail = "enabled, but it has no credentials; connect the account again";
    } else if (stored.secret.kind === "oauth2") {
      const t = stored.secret.tokens;
      if (renewalOf(provider, t) === "reconsent" && t.expires_at !== undefined && t.expires_at * 1000 <= ctx.clock()) {
        status = "expired";
        detail = `expired: the ${provider.def.name} access ended while the connector was disabled. Ask the person to consent again with start_connector_oauth (connector_id "${row.id}").`;
      }
    }
    await trx.updateTable("connectors").set({ status, status_detail: detail, status_before_disable: null, updated_at: nowIso(ctx) }).where("id", "=", row.id).execute();
    await recordEvent(trx, ctx, row, "enabled", status === "connected" ? undefined : `now ${status}`);
    return { row, status };
  });
  if (changed) emit(ctx, changed.row, changed.status);
  return getConnector(ctx.db, workspaceId, connectorId);
}

export type { ProviderRevocation } from "./revocation.js";

/** Best-effort revocation of the stored grant at the provider: RFC 7009, or the provider's own hook. */
async function revokeAtProvider(
  ctx: Context,
  row: ConnectorRow,
  provider: Provider,
): Promise<{ outcome: ProviderRevocation; detail: string; seenVersion?: number | null }> {
  const name = provider.def.name;
  let stored;
  try {
    stored = await readSecret(ctx, ctx.db, row.id);
  } catch (err) {
    ctx.log.warn("stored secret could not be opened for revocation", { connector_id: row.id, error: err });
    return { outcome: "failed", detail: "the stored tokens could not be decrypted, so they were not revoked at the provider" };
  }
  if (!stored) return { outcome: "not_needed", detail: "no tokens were stored", seenVersion: null };
  if (stored.secret.kind === "api_key") {
    return { outcome: "not_offered", detail: `the API key was wiped here; it keeps working at ${name} until the person deletes it there`, seenVersion: stored.version };
  }
  return { ...(await revokeTokens(ctx, provider, row, stored.secret.tokens)), seenVersion: stored.version };
}

/**
 * Tokens stored after revokeAtProvider looked (a callback or a refresh that finished while it
 * talked to the provider). Read inside the transaction that wipes them; revoked after it commits.
 */
async function tokensStoredSince(ctx: Context, trx: DB, connectorId: string, seenVersion: number | null | undefined): Promise<TokenSet | undefined> {
  if (seenVersion === undefined) return undefined;
  const now = await readSecret(ctx, trx, connectorId).catch(() => undefined);
  return now && now.version !== seenVersion && now.secret.kind === "oauth2" ? now.secret.tokens : undefined;
}

async function revokeLate(ctx: Context, provider: Provider, row: ConnectorRow, tokens: TokenSet | undefined, outcome: ProviderRevocation): Promise<ProviderRevocation> {
  if (!tokens) return outcome;
  const late = await revokeTokens(ctx, provider, row, tokens);
  ctx.log.info("tokens stored during the revocation were revoked too", { connector_id: row.id, provider: provider.id, provider_revocation: late.outcome });
  return outcome === "not_needed" || outcome === "revoked" ? late.outcome : outcome;
}

/** Shrink the WAL so wiped secrets do not linger in old frames (secure_delete covers the main file). */
async function flushWal(ctx: Context): Promise<void> {
  try {
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(ctx.db);
  } catch (err) {
    ctx.log.warn("wal checkpoint after wiping secrets failed", { error: err });
  }
}

/** Revoke at the provider where it can, wipe the tokens, status `revoked`. */
export async function revokeConnector(ctx: Context, workspaceId: string, connectorId: string): Promise<{ connector: ConnectorObject; provider_revocation: ProviderRevocation }> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  if (row.status === "revoked") return { connector: await getConnector(ctx.db, workspaceId, connectorId), provider_revocation: "not_needed" };
  const provider = ctx.catalog.get(row.provider);
  const { outcome: first, detail, seenVersion } = await revokeAtProvider(ctx, row, provider);
  const late = await ctx.db.transaction().execute(async (trx) => {
    // Write first, so the transaction holds the write lock before it reads (no lock upgrade across processes).
    await trx.deleteFrom("oauth_grants").where("connector_id", "=", row.id).execute();
    const since = await tokensStoredSince(ctx, trx, row.id, seenVersion);
    // Primaries stay: resolve_connector then says the primary was revoked instead of silently picking another.
    await trx.deleteFrom("connector_secrets").where("connector_id", "=", row.id).execute();
    await trx
      .updateTable("connectors")
      .set({ status: "revoked", status_detail: `revoked: ${detail}`, health: "unknown", expires_at: null, updated_at: nowIso(ctx) })
      .where("id", "=", row.id)
      .execute();
    await recordEvent(trx, ctx, row, "revoked", detail);
    return since;
  });
  await flushWal(ctx);
  const outcome = await revokeLate(ctx, provider, row, late, first);
  ctx.log.info("connector revoked", { connector_id: row.id, provider: provider.id, provider_revocation: outcome });
  emit(ctx, row, "revoked");
  return { connector: await getConnector(ctx.db, workspaceId, connectorId), provider_revocation: outcome };
}

/** Best-effort revoke, then remove the row, its secrets, grants and primaries. The event trail keeps a `deleted` entry. */
export async function deleteConnector(ctx: Context, workspaceId: string, connectorId: string): Promise<{ deleted: true; connector_id: string; provider_revocation: ProviderRevocation }> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  const provider = ctx.catalog.get(row.provider);
  const { outcome: first, detail, seenVersion } =
    row.status === "revoked" ? { outcome: "not_needed" as const, detail: "already revoked", seenVersion: null } : await revokeAtProvider(ctx, row, provider);
  const late = await ctx.db.transaction().execute(async (trx) => {
    // Write first, so the transaction holds the write lock before it reads (no lock upgrade across processes).
    await trx.deleteFrom("primaries").where("connector_id", "=", row.id).execute();
    const since = await tokensStoredSince(ctx, trx, row.id, seenVersion);
    await trx.deleteFrom("connector_secrets").where("connector_id", "=", row.id).execute();
    await trx.deleteFrom("oauth_grants").where("connector_id", "=", row.id).execute();
    await trx.deleteFrom("connectors").where("id", "=", row.id).where("workspace_id", "=", workspaceId).execute();
    await recordEvent(trx, ctx, row, "deleted", detail);
    return since;
  });
  await flushWal(ctx);
  const outcome = await revokeLate(ctx, provider, row, late, first);
  ctx.log.info("connector deleted", { connector_id: row.id, provider: provider.id, provider_revocation: outcome });
  emit(ctx, row, "deleted");
  return { deleted: true, connector_id: row.id, provider_revocation: outcome };
}
