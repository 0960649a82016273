// Pure decisions of update_connector and enable_connector: what an update changes, when a stored
// key must be checked again, and where enabling takes a disabled connector.
import { describe, expect, it } from "vitest";
import { definitions } from "../../providers/index.js";
import { buildCatalog } from "../../src/catalog/catalog.js";
import { enableTarget } from "../../src/connectors/pause.js";
import { keyCheckTarget, planUpdate } from "../../src/connectors/update.js";

const catalog = buildCatalog(definitions, {});
const sanity = catalog.get("sanity");
const hubspot = catalog.get("hubspot");
const meta = catalog.get("meta_ads");

describe("planUpdate", () => {
  const row = {
    label: "Sales CRM",
    settings: { default_objects: ["contacts"] },
    roles: ["source", "crm_sink"] as Array<"source" | "crm_sink">,
  };

  it("changes nothing when the input says what is already there", () => {
    expect(
      planUpdate(hubspot, row, { label: " Sales CRM ", settings: { default_objects: ["contacts"] }, roles: ["source", "crm_sink"] }),
    ).toEqual({
      patch: {},
      changed: [],
      settings: { default_objects: ["contacts"] },
      removedRoles: [],
    });
    expect(planUpdate(hubspot, row, {}).changed).toEqual([]);
  });

  it("merges settings (null removes one), checks them, and says what changed", () => {
    const p = planUpdate(hubspot, row, { settings: { default_objects: null } });
    expect(p.patch).toEqual({ settings: {} });
    expect(p.changed).toEqual(["settings (default_objects)"]);
    expect(() => planUpdate(hubspot, row, { settings: { portal: 1 } })).toThrow(expect.objectContaining({ code: "invalid_input" }));
  });

  it("trims the label and refuses an empty one", () => {
    expect(planUpdate(hubspot, row, { label: "  Support  " })).toMatchObject({ patch: { label: "Support" }, changed: ["label"] });
    expect(() => planUpdate(hubspot, row, { label: "   " })).toThrow(/label cannot be empty/);
  });

  it("lists the roles removed (their primaries go) and refuses a role the provider cannot play", () => {
    const p = planUpdate(hubspot, row, { roles: ["source"] });
    expect(p).toMatchObject({ patch: { roles: ["source"] }, changed: ["roles (source)"], removedRoles: ["crm_sink"] });
    expect(planUpdate(hubspot, row, { roles: [] }).changed).toEqual(["roles (none)"]);
    expect(() => planUpdate(hubspot, row, { roles: ["sink"] })).toThrow(expect.objectContaining({ code: "role_not_allowed" }));
  });
});

describe("keyCheckTarget", () => {
  const base = { project_id: "abc123", dataset: "production" };
  it("moves with what the key was checked against: project, dataset and API version", () => {
    const t = keyCheckTarget(sanity, base);
    expect(keyCheckTarget(sanity, { ...base })).toBe(t);
    expect(keyCheckTarget(sanity, { ...base, project_id: "other9" })).not.toBe(t);
    expect(keyCheckTarget(sanity, { ...base, dataset: "staging" })).not.toBe(t);
    expect(keyCheckTarget(sanity, { ...base, api_version: "v2021-10-21" })).not.toBe(t);
  });
  it("does not move with settings the check does not depend on", () => {
    expect(keyCheckTarget(sanity, { ...base, perspective: "drafts" })).toBe(keyCheckTarget(sanity, base));
  });
});

describe("enableTarget", () => {
  const NOW = Date.parse("2026-12-01T00:00:00Z");
  const row = (before: "connected" | "expired" | "error" | "pending" | null, auth: "oauth2" | "api_key" = "oauth2") => ({
    id: "con_1",
    auth_type: auth,
    status_before_disable: before,
  });
  const oauth = (expires_at?: number, refresh_token?: string) => ({
    kind: "oauth2" as const,
    tokens: { access_token: "at", expires_at, refresh_token },
  });

  it("connected again when the credentials still work", () => {
    expect(enableTarget(hubspot, row("connected"), oauth(NOW / 1000 - 10, "rt"), NOW)).toEqual({
      to: "connected",
      reason: null,
      detail: null,
    });
    expect(enableTarget(sanity, row("connected", "api_key"), { kind: "api_key", api_key: "k" }, NOW).to).toBe("connected");
    expect(enableTarget(meta, row("connected"), oauth(NOW / 1000 + 10), NOW).to).toBe("connected");
  });
  it("what it was before: disabling fixed nothing", () => {
    expect(enableTarget(hubspot, row("expired"), oauth(), NOW)).toMatchObject({ to: "expired", reason: "expired" });
    expect(enableTarget(hubspot, row("expired"), oauth(), NOW).detail).toContain(`start_connector_oauth with connector_id "con_1"`);
    expect(enableTarget(hubspot, row("error"), oauth(), NOW)).toMatchObject({ to: "error", reason: null });
    expect(enableTarget(hubspot, row("pending"), undefined, NOW).to).toBe("pending");
  });
  it("what it became meanwhile: an access that cannot be renewed ended, or no credentials at all", () => {
    expect(enableTarget(meta, row("connected"), oauth(NOW / 1000 - 1), NOW)).toMatchObject({ to: "expired", reason: "expired" });
    expect(enableTarget(hubspot, row("connected"), undefined, NOW)).toMatchObject({ to: "error", reason: null });
    expect(enableTarget(sanity, row("connected", "api_key"), undefined, NOW).detail).toContain("submit_connector_key");
  });
});
