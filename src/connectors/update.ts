/** update_connector: label, settings and roles, with a re-check of the key when settings change where it is checked. */
import { apiBaseUrl, testReadPath } from "../catalog/api.js";
import type { AccountFacts, Json, Provider, Role } from "../catalog/catalog.js";
import { endpointsDiffer } from "../catalog/endpoints.js";
import { checkRoles, parseSettings } from "../catalog/rules.js";
import { type AccountCheck, readAccount } from "../catalog/test-read.js";
import { checkVersionSettings } from "../catalog/versions.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { cleanLabel } from "../common/text.js";
import type { CredentialDeps } from "../credentials/deps.js";
import { readSecret } from "../credentials/secrets.js";
import { type ConnectorObject, connectorPatch, getConnector, getConnectorRow, recordEvent } from "../store/connectors.js";
import type { DB } from "../store/db.js";
import type { ConnectorRow } from "../store/schema.js";
import { RECONNECTABLE, recheckConnected } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";

export interface UpdateInput {
  label?: string | undefined;
  /** Merged into the current settings; a null value removes that setting. */
  settings?: Record<string, unknown> | undefined;
  roles?: string[] | undefined;
}

export interface UpdatePlan {
  patch: { label?: string; settings?: Record<string, Json>; roles?: Role[] };
  /** What changed, in words, for the event trail; empty when nothing changes. */
  changed: string[];
  /** The merged settings, when settings were given. */
  settings?: Record<string, Json>;
  removedRoles: Role[];
}

/** Pure: the update applied to one version of the row; throws on input the provider refuses. */
export function planUpdate(provider: Provider, row: Pick<ConnectorRow, "label" | "settings" | "roles">, input: UpdateInput): UpdatePlan {
  const plan: UpdatePlan = { patch: {}, changed: [], removedRoles: [] };
  if (input.label !== undefined) {
    const label = cleanLabel(input.label);
    if (label === "") throw new ConnectorError("invalid_input", "label cannot be empty.");
    if (label !== row.label) {
      plan.patch.label = label;
      plan.changed.push("label");
    }
  }
  if (input.settings !== undefined) {
    const merged: Record<string, unknown> = { ...row.settings };
    for (const [k, v] of Object.entries(input.settings)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    plan.settings = parseSettings(provider, merged);
    if (JSON.stringify(plan.settings) !== JSON.stringify(row.settings)) {
      plan.patch.settings = plan.settings;
      plan.changed.push(`settings (${Object.keys(input.settings).join(", ")})`);
    }
  }
  if (input.roles !== undefined) {
    const roles = checkRoles(provider, input.roles);
    plan.removedRoles = row.roles.filter((r) => !roles.includes(r));
    if (JSON.stringify(roles) !== JSON.stringify(row.roles)) {
      plan.patch.roles = roles;
      plan.changed.push(`roles (${roles.join(", ") || "none"})`);
    }
  }
  return plan;
}

/**
 * Settings an update may not change: where an OAuth connector signs in (Salesforce login_host,
 * Outlook tenant) belongs to its grant (refresh and revoke go to the host it started on), so a
 * change needs a new consent; and a version setting may not pick a version that has ended.
 */
export function checkSettingsChange(
  provider: Provider,
  row: Pick<ConnectorRow, "id" | "auth_type" | "status" | "settings">,
  plan: UpdatePlan,
  changedKeys: readonly string[],
  nowMs: number,
): void {
  if (!plan.settings) return;
  checkVersionSettings(provider, plan.settings, nowMs, changedKeys);
  if (row.auth_type !== "oauth2" || !endpointsDiffer(provider, row.settings, plan.settings)) return;
  const how = RECONNECTABLE.has(row.status)
    ? `reconnect it with start_connector_oauth (connector_id "${row.id}", provider "${provider.id}", and the new settings) so the person consents on the new sign-in`
    : `start a new connector with start_connector_oauth and the new settings (or revoke_connector this one, then reconnect it with connector_id "${row.id}" and the new settings)`;
  throw new ConnectorError(
    "invalid_input",
    `${changedKeys.join(", ")} cannot be changed on an OAuth connector: it decides where ${provider.def.name} signs in, and this connector's tokens belong to the sign-in it was granted on. To move it, ${how}. Nothing was changed.`,
  );
}

/**
 * What a stored API key was validated against: the provider's required settings (Sanity's project
 * and dataset) and where the test read goes (which also follows the API version). When this
 * changes, the key is checked again before the settings are saved.
 */
export function keyCheckTarget(provider: Provider, settings: Record<string, unknown>): string {
  const view = { settings, token_extras: {}, env: provider.env };
  const required = provider.def.api_key?.required_settings ?? [];
  return JSON.stringify([required.map((k) => settings[k] ?? null), apiBaseUrl(provider, view), testReadPath(provider, view, "api_key")]);
}

/** Attempts before giving up when concurrent updates keep moving the settings a key was checked against. */
const UPDATE_ATTEMPTS = 3;

/** An API-key connector whose settings move what its key was checked against: the key is checked again. */
function needsKeyCheck(
  provider: Provider,
  current: ConnectorRow,
  next: UpdatePlan,
): next is UpdatePlan & { settings: Record<string, Json> } {
  return (
    current.auth_type === "api_key" &&
    next.settings !== undefined &&
    keyCheckTarget(provider, next.settings) !== keyCheckTarget(provider, current.settings)
  );
}

/** The stored key checked against the new settings (a network call, outside any transaction). */
interface KeyCheck {
  target: string;
  check: AccountCheck;
}

async function checkStoredKey(ctx: CredentialDeps, provider: Provider, row: ConnectorRow, plan: UpdatePlan): Promise<KeyCheck | undefined> {
  if (!needsKeyCheck(provider, row, plan)) return undefined;
  const stored = await readSecret(ctx, ctx.db, row.id);
  if (stored?.secret.kind !== "api_key") return undefined;
  const check = await readAccount(
    ctx,
    provider,
    { settings: plan.settings, token_extras: {}, env: provider.env },
    stored.secret.api_key,
    "api_key",
  );
  if (!check.ok) {
    throw new ConnectorError(
      "provider_error",
      `The stored key does not work with the new settings: ${check.error ?? "the test read failed"}. Nothing was changed.`,
      {
        retryable: check.status === null,
      },
    );
  }
  return { target: keyCheckTarget(provider, plan.settings), check };
}

/**
 * Plan again on the current row (inside the write lock) and write it; "recheck" when the key
 * check done outside no longer applies to what is stored now.
 */
async function applyUpdate(
  trx: DB,
  ctx: CredentialDeps,
  provider: Provider,
  workspaceId: string,
  connectorId: string,
  input: UpdateInput,
  checked: KeyCheck | undefined,
): Promise<"done" | "recheck"> {
  const current = await getConnectorRow(trx, workspaceId, connectorId);
  const p = planUpdate(provider, current, input);
  if (p.changed.length === 0) return "done";
  checkSettingsChange(provider, current, p, Object.keys(input.settings ?? {}), ctx.clock());
  let account: { account: AccountFacts; health: "healthy"; last_checked_at: string } | undefined;
  if (needsKeyCheck(provider, current, p)) {
    const still = checked && checked.target === keyCheckTarget(provider, p.settings);
    const hasKey = await trx
      .selectFrom("connector_secrets")
      .select("connector_id")
      .where("connector_id", "=", current.id)
      .executeTakeFirst();
    if (!still && (checked || hasKey)) return "recheck";
    if (checked) account = { account: checked.check.account, health: "healthy", last_checked_at: nowIso(ctx) };
  }
  await trx
    .updateTable("connectors")
    .set(connectorPatch({ ...p.patch, ...account, updated_at: nowIso(ctx) }))
    .where("id", "=", current.id)
    .where("workspace_id", "=", workspaceId)
    .execute();
  if (account && current.status === "connected") {
    // The key works with the new settings: the "test read failed" detail of a connected connector no longer applies.
    await recheckConnected(trx, ctx, current, { reason: null, detail: null });
  }
  if (p.removedRoles.length > 0) {
    await trx.deleteFrom("primaries").where("connector_id", "=", current.id).where("role", "in", p.removedRoles).execute();
  }
  await recordEvent(
    trx,
    ctx,
    current,
    "updated",
    `changed ${p.changed.join("; ")}${account ? "; key checked against the new settings" : ""}`,
  );
  return "done";
}

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
export async function updateConnector(
  ctx: CredentialDeps,
  workspaceId: string,
  connectorId: string,
  input: UpdateInput,
): Promise<ConnectorObject> {
  for (let attempt = 1; ; attempt++) {
    const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
    const provider = ctx.catalog.get(row.provider);
    const plan = planUpdate(provider, row, input);
    if (plan.changed.length === 0) return getConnector(ctx.db, workspaceId, connectorId);
    checkSettingsChange(provider, row, plan, Object.keys(input.settings ?? {}), ctx.clock());
    const checked = await checkStoredKey(ctx, provider, row, plan);
    const outcome = await writeTransaction(ctx.db, (trx) => applyUpdate(trx, ctx, provider, workspaceId, connectorId, input, checked), {
      queueOn: connectorId,
    });
    if (outcome === "done") return getConnector(ctx.db, workspaceId, connectorId);
    if (attempt >= UPDATE_ATTEMPTS) {
      throw new ConnectorError(
        "conflict",
        `Connector ${connectorId} was changed by someone else while its key was being checked; nothing was changed. Read it again and retry.`,
        {
          retryable: true,
        },
      );
    }
  }
}
