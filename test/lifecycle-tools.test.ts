// The lifecycle tools through a real MCP client (SDK Client over InMemoryTransport against
// createMcpServer): BYOK (Sanity against a fake API), settings, roles and primaries, resolve,
// disable/enable, revoke, delete with secure deletion, the event trail and workspace isolation.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace } from "../src/store/workspaces.js";
import { type FakeApi, startFakeApi } from "./sandbox/fake-api.js";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { issuedBy } from "./sandbox/oauth-server.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { onPostgres } from "./support/database.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";

const SANITY_KEY = "skSanityRobotToken0123456789abcdefABCDEF";
const WRONG_KEY = "skWrongToken9876543210zyxwvutsrqponmlkjih";

let hubspot: ProviderSandbox;
let sanityApi: FakeApi;
let h: Harness;

beforeAll(async () => {
  const { port, redirectUri } = await reservePort();
  hubspot = await startProviderSandbox({
    provider: "hubspot",
    redirectUri,
    scopes: HUBSPOT_SCOPES,
    routes: {
      "GET /account-info/2026-03/details": async (req) => {
        const who = (await hubspot.oauth.validateAccessToken(req.token ?? ""))?.accountId;
        return { json: { portalId: who === "bob" ? 5005 : 4242, timeZone: "Europe/Berlin" } };
      },
    },
  });
  // Sanity's project API: a GROQ query on the dataset, refused for a wrong token or an unknown dataset.
  sanityApi = await startFakeApi({
    "GET /v2025-02-19/data/query/production": (req) =>
      req.token === SANITY_KEY
        ? { json: { query: req.query.get("query"), result: { _id: "doc1" }, ms: 1 } }
        : { status: 401, json: { error: "Unauthorized", message: "Session not found", statusCode: 401 } },
    "GET /v2025-02-19/data/query/staging": () => ({
      status: 404,
      json: { error: "Not Found", message: 'Dataset "staging" not found for project ID "abc123"', statusCode: 404 },
    }),
  });
  h = await startHarness({ env: { ...hubspot.env, TENEX_SANITY_API_BASE_URL: sanityApi.url }, port });
});

afterAll(async () => {
  await h?.close();
  await hubspot?.close();
  await sanityApi?.close();
});

const dbBytes = () => {
  const files = fs.readdirSync(h.dir).filter((f) => f.startsWith("tenex.db"));
  return Buffer.concat(files.map((f) => fs.readFileSync(path.join(h.dir, f))));
};
const ids = (list: { connectors: Array<{ id: string }> }) => list.connectors.map((c) => c.id);

describe("submit_connector_key (BYOK, Sanity)", () => {
  it("refuses a key the provider rejects, with the status and the provider's error code (not its text), and stores it nowhere", async () => {
    const err = await h.fail("submit_connector_key", {
      provider: "sanity",
      api_key: WRONG_KEY,
      settings: { project_id: "abc123", dataset: "production" },
    });
    expect(err.code).toBe("provider_error");
    expect(err.message).toContain("HTTP 401 Unauthorized");
    expect(err.message).not.toContain("Session not found");
    expect(err.message).toContain("Nothing was stored");
    expect(err.message).not.toContain(WRONG_KEY);
    expect(sanityApi.calls.at(-1)!.headers.authorization).toBe(`Bearer ${WRONG_KEY}`); // it was really checked
    expect(ids(await h.ok("list_connectors", { provider: "sanity" }))).toEqual([]);
    const secrets = await h.ctx.db.selectFrom("connector_secrets").select("connector_id").execute();
    const raw = dbBytes();
    expect(raw.includes(Buffer.from(WRONG_KEY))).toBe(false);
    expect(h.logs.some((l) => l.includes(WRONG_KEY))).toBe(false);
    expect(h.results.some((r) => r.includes(WRONG_KEY))).toBe(false);
    expect(secrets.length).toBeGreaterThanOrEqual(0);
  });

  it("refuses a malformed key or missing required settings as invalid_input before calling the provider", async () => {
    const calls = sanityApi.calls.length;
    const shape = await h.fail("submit_connector_key", {
      provider: "sanity",
      api_key: "two words here",
      settings: { project_id: "abc123", dataset: "production" },
    });
    expect(shape.code).toBe("invalid_input");
    expect(shape.message).not.toContain("two words");
    const missing = await h.fail("submit_connector_key", { provider: "sanity", api_key: SANITY_KEY, settings: { project_id: "abc123" } });
    expect(missing.code).toBe("invalid_input");
    expect(missing.message).toContain("dataset");
    const unknown = await h.fail("submit_connector_key", {
      provider: "sanity",
      api_key: SANITY_KEY,
      settings: { project_id: "abc123", dataset: "production", token: "x" },
    });
    expect(unknown).toMatchObject({ code: "invalid_input" });
    expect(unknown.message).toContain("unknown field(s) token");
    expect((await h.fail("submit_connector_key", { provider: "hubspot", api_key: SANITY_KEY })).code).toBe("auth_type_unsupported");
    expect((await h.fail("start_connector_oauth", { provider: "sanity" })).code).toBe("auth_type_unsupported");
    expect((await h.fail("submit_connector_key", { provider: "nope", api_key: SANITY_KEY })).code).toBe("unknown_provider");
    expect(sanityApi.calls.length).toBe(calls);
  });

  it("stores a valid key encrypted and returns a connected connector with the account facts", async () => {
    const c = await h.ok("submit_connector_key", {
      provider: "sanity",
      api_key: SANITY_KEY,
      label: "Site CMS",
      roles: ["sink"],
      settings: { project_id: "abc123", dataset: "production" },
    });
    expect(c).toMatchObject({
      provider: "sanity",
      label: "Site CMS",
      auth_type: "api_key",
      status: "connected",
      health: "healthy",
      roles: ["sink"],
      settings: { project_id: "abc123", dataset: "production" },
      account: { project_id: "abc123", dataset: "production", api_version: "v2025-02-19" },
    });
    expect(c.last_checked_at).toBeTruthy();
    expect(dbBytes().includes(Buffer.from(SANITY_KEY))).toBe(false); // sealed, not in clear
    const t = await h.ok("test_connector", { connector_id: c.id });
    expect(t).toMatchObject({ ok: true, account: { project_id: "abc123" } });
    expect(t.latency_ms).toBeGreaterThanOrEqual(0);
    const s = await h.ok("get_connector_status", { connector_id: c.id });
    expect(s.recent_events?.map((e) => e.type)).toEqual(["tested", "connected", "created"]);
  });
});

describe("update_connector", () => {
  it("merges settings checked against the provider's schema, and re-checks a key when its project or dataset changes", async () => {
    const c = (await h.ok("list_connectors", { provider: "sanity" })).connectors[0]!;
    const up = await h.ok("update_connector", { connector_id: c.id, label: "Marketing CMS", settings: { perspective: "published" } });
    expect(up).toMatchObject({
      label: "Marketing CMS",
      settings: { project_id: "abc123", dataset: "production", perspective: "published" },
    });
    const removed = await h.ok("update_connector", { connector_id: c.id, settings: { perspective: null } });
    expect(removed.settings).toEqual({ project_id: "abc123", dataset: "production" });

    const wrongDataset = await h.fail("update_connector", { connector_id: c.id, settings: { dataset: "staging" } });
    expect(wrongDataset.code).toBe("provider_error");
    expect(wrongDataset.message).toContain("404");
    expect(wrongDataset.message).toContain("Nothing was changed");
    expect((await h.ok("get_connector_status", { connector_id: c.id })).settings.dataset).toBe("production");

    expect((await h.fail("update_connector", { connector_id: c.id, settings: { bogus: 1 } })).code).toBe("invalid_input");
    expect((await h.fail("update_connector", { connector_id: c.id, settings: { dataset: null } })).code).toBe("invalid_input"); // required
    expect((await h.fail("update_connector", { connector_id: c.id, roles: ["crm_sink"] })).code).toBe("role_not_allowed");
    expect((await h.fail("update_connector", { connector_id: "con_missing" })).code).toBe("not_found");
    const events = (await h.ok("get_connector_status", { connector_id: c.id })).recent_events!;
    expect(events[0]).toMatchObject({ type: "updated" });
    expect(events[0]!.detail).toContain("settings (perspective)");
  });
});

describe("roles, primaries and resolve_connector", () => {
  let alice: string;
  let bob: string;
  let sanity: string;

  beforeAll(async () => {
    alice = (await h.connect("hubspot", { label: "Alice CRM", roles: ["crm_sink"] }, "alice")).connector_id;
    bob = (await h.connect("hubspot", { label: "Bob CRM", roles: ["source", "crm_sink"] }, "bob")).connector_id;
    sanity = (await h.ok("list_connectors", { provider: "sanity" })).connectors[0]!.id;
  });

  it("answers conflict listing the candidates when several are connected and none is primary", async () => {
    const err = await h.fail("resolve_connector", { role: "crm_sink" });
    expect(err.code).toBe("conflict");
    expect(err.message).toContain(alice);
    expect(err.message).toContain(bob);
    expect(err.message).toContain("set_primary_connector");
  });

  it("promotes a primary, demoting the previous one in the same step", async () => {
    const a = await h.ok("set_primary_connector", { connector_id: alice, role: "crm_sink" });
    expect(a.primary_for).toEqual(["crm_sink"]);
    expect((await h.ok("resolve_connector", { role: "crm_sink" })).id).toBe(alice);

    const b = await h.ok("set_primary_connector", { connector_id: bob, role: "crm_sink" });
    expect(b.primary_for).toEqual(["crm_sink"]);
    expect((await h.ok("get_connector_status", { connector_id: alice })).primary_for).toEqual([]);
    expect((await h.ok("resolve_connector", { role: "crm_sink", provider: "hubspot" })).id).toBe(bob);
    const rows = await h.ctx.db.selectFrom("primaries").selectAll().where("role", "=", "crm_sink").execute();
    expect(rows).toHaveLength(1);
    expect((await h.ok("get_connector_status", { connector_id: alice })).recent_events?.[0]).toMatchObject({ type: "primary_removed" });
  });

  it("refuses a role the provider cannot play, and adds an allowed role the connector lacked", async () => {
    expect((await h.fail("set_primary_connector", { connector_id: sanity, role: "crm_sink" })).code).toBe("role_not_allowed");
    const a = await h.ok("set_primary_connector", { connector_id: alice, role: "source" });
    expect(a.roles).toEqual(["crm_sink", "source"]);
    expect(a.primary_for).toEqual(["source"]);
    expect((await h.ok("resolve_connector", { role: "source" })).id).toBe(alice);
  });

  it("falls back to the only connected candidate, and says not_found when there is none", async () => {
    // Removing the role drops bob's primary for it; alice is then the only connected crm_sink.
    const b = await h.ok("update_connector", { connector_id: bob, roles: ["source"] });
    expect(b.primary_for).toEqual([]);
    expect((await h.ok("resolve_connector", { role: "crm_sink" })).id).toBe(alice);
    expect((await h.ok("resolve_connector", { role: "sink" })).id).toBe(sanity);
    const none = await h.fail("resolve_connector", { role: "sink", provider: "hubspot" });
    expect(none.code).toBe("not_found");
    expect((await h.fail("resolve_connector", { role: "crm_sink", provider: "nope" })).code).toBe("unknown_provider");
  });

  it("does not hand out a disabled primary: disable keeps the secret, enable brings it back", async () => {
    const d = await h.ok("disable_connector", { connector_id: alice });
    expect(d.status).toBe("disabled");
    expect(d.primary_for).toEqual(["source"]);
    const err = await h.fail("resolve_connector", { role: "source" });
    expect(err.code).toBe("invalid_state");
    expect(err.message).toContain("enable_connector");
    expect((await h.fail("test_connector", { connector_id: alice })).code).toBe("invalid_state");
    expect((await h.fail("refresh_connector", { connector_id: alice })).code).toBe("invalid_state");
    expect((await h.fail("set_primary_connector", { connector_id: alice, role: "crm_sink" })).code).toBe("invalid_state");
    expect(
      await h.ctx.db.selectFrom("connector_secrets").select("connector_id").where("connector_id", "=", alice).executeTakeFirst(),
    ).toBeTruthy();
    expect((await h.ok("disable_connector", { connector_id: alice })).status).toBe("disabled"); // idempotent

    const e = await h.ok("enable_connector", { connector_id: alice });
    expect(e.status).toBe("connected");
    expect(e.status_detail).toBeUndefined();
    expect((await h.ok("test_connector", { connector_id: alice })).ok).toBe(true);
    expect((await h.ok("resolve_connector", { role: "source" })).id).toBe(alice);
    expect((await h.ok("enable_connector", { connector_id: alice })).status).toBe("connected"); // idempotent
    const types = (await h.ok("get_connector_status", { connector_id: alice })).recent_events!.map((x) => x.type);
    expect(types.slice(0, 3)).toEqual(["tested", "enabled", "disabled"]);
  });
});

describe("revoke_connector and delete_connector", () => {
  it("revokes at the provider (RFC 7009), wipes the tokens and refuses further use", async () => {
    const { connector_id: id } = await h.connect("hubspot", { label: "To revoke" }, "carol");
    const revokedBefore = hubspot.oauth.revocationCalls.length;
    const r = await h.ok("revoke_connector", { connector_id: id });
    expect(r.provider_revocation).toBe("revoked");
    expect(r.connector).toMatchObject({ status: "revoked", health: "unknown" });
    expect(hubspot.oauth.revocationCalls.length - revokedBefore).toBe(2);
    expect(
      await h.ctx.db.selectFrom("connector_secrets").select("connector_id").where("connector_id", "=", id).executeTakeFirst(),
    ).toBeUndefined();
    expect((await h.fail("test_connector", { connector_id: id })).code).toBe("invalid_state");
    expect((await h.fail("enable_connector", { connector_id: id })).code).toBe("invalid_state");
    expect((await h.ok("revoke_connector", { connector_id: id })).provider_revocation).toBe("not_needed");
    // The grant is gone at the provider too: its refresh token no longer works there.
    expect(hubspot.oauth.revocationCalls.slice(revokedBefore).every((c) => c.status === 200)).toBe(true);
  });

  it("an API key cannot be revoked at the provider: it is wiped here and the result says so", async () => {
    const c = await h.ok("submit_connector_key", {
      provider: "sanity",
      api_key: SANITY_KEY,
      settings: { project_id: "abc123", dataset: "production" },
    });
    const r = await h.ok("revoke_connector", { connector_id: c.id });
    expect(r.provider_revocation).toBe("not_offered");
    expect(r.connector.status_detail).toContain("deletes it there");
  });

  // SQLite only: reads the database files (secure_delete, WAL checkpoint); PostgreSQL has no files of ours to read.
  it.skipIf(onPostgres)(
    "delete_connector revokes, removes the row and its secrets, and no trace of them stays in the database files",
    async () => {
      const { connector_id: id } = await h.connect("hubspot", { label: "To delete", roles: ["crm_sink"] }, "dave");
      await h.ok("refresh_connector", { connector_id: id }); // two generations of the secret
      await h.ok("set_primary_connector", { connector_id: id, role: "crm_sink" });
      const row = await h.ctx.db
        .selectFrom("connector_secrets")
        .select("ciphertext")
        .where("connector_id", "=", id)
        .executeTakeFirstOrThrow();
      const issued = hubspot.oauth.tokenCalls
        .filter((c) => c.status === 200)
        .slice(-2)
        .map(issuedBy);
      const secrets = [
        row.ciphertext.split(".")[4]!,
        ...issued.flatMap((b) => [b.access_token, b.refresh_token].filter((t): t is string => !!t)),
      ];
      // The test can fail: the current ciphertext is in the files now.
      expect(dbBytes().includes(Buffer.from(secrets[0]!))).toBe(true);

      const d = await h.ok("delete_connector", { connector_id: id });
      expect(d).toEqual({ deleted: true, connector_id: id, provider_revocation: "revoked" });
      expect((await h.fail("get_connector_status", { connector_id: id })).code).toBe("not_found");
      expect((await h.fail("delete_connector", { connector_id: id })).code).toBe("not_found");
      expect(await h.ctx.db.selectFrom("primaries").selectAll().where("connector_id", "=", id).execute()).toEqual([]);
      const raw = dbBytes();
      for (const s of secrets) expect(raw.includes(Buffer.from(s)), `secret ${s.slice(0, 6)}… in the database files`).toBe(false);
      const trail = await h.ctx.db
        .selectFrom("connector_events")
        .select(["type", "detail"])
        .where("connector_id", "=", id)
        .orderBy("id")
        .execute();
      expect(trail.map((e) => e.type)).toEqual(["created", "connected", "refreshed", "primary_set", "deleted"]);
      for (const e of trail) for (const s of secrets) expect(e.detail ?? "").not.toContain(s);
    },
  );
});

describe("list_connectors expiry filter and workspace isolation", () => {
  it("validates expiring_within_days (1-365)", async () => {
    expect((await h.fail("list_connectors", { expiring_within_days: 0 })).code).toBe("invalid_input");
    expect((await h.fail("list_connectors", { expiring_within_days: 366 })).code).toBe("invalid_input");
    expect(ids(await h.ok("list_connectors", { expiring_within_days: 365 }))).toEqual([]); // HubSpot and Sanity access does not end by itself
  });

  it("treats another workspace's connector as not_found in every lifecycle tool", async () => {
    const mine = (await h.ok("list_connectors", { provider: "hubspot", status: "connected" })).connectors[0]!.id;
    const ws = await createWorkspace(h.ctx.db, `other-${Date.now()}`, new Date().toISOString());
    const other = await startHarness({
      env: { ...hubspot.env, TENEX_SANITY_API_BASE_URL: sanityApi.url },
      share: h,
      listen: false,
      workspaceId: ws.id,
    });
    try {
      for (const [tool, args] of [
        ["get_connector_status", {}],
        ["update_connector", { label: "x" }],
        ["set_primary_connector", { role: "source" }],
        ["test_connector", {}],
        ["refresh_connector", {}],
        ["revoke_connector", {}],
        ["disable_connector", {}],
        ["enable_connector", {}],
        ["delete_connector", {}],
        ["start_connector_oauth", { provider: "hubspot" }],
      ] as const) {
        expect((await other.fail(tool, { connector_id: mine, ...args })).code, tool).toBe("not_found");
      }
      expect((await other.fail("resolve_connector", { role: "crm_sink" })).code).toBe("not_found");
      expect(ids(await other.ok("list_connectors", {}))).toEqual([]);
    } finally {
      await other.close();
    }
    expect((await h.ok("get_connector_status", { connector_id: mine })).status).toBe("connected");
  });
});

describe("after all of it", () => {
  it("leaked no secret into any tool result or log line", () => {
    const issued = hubspot.oauth.tokenCalls
      .filter((c) => c.status === 200)
      .flatMap((c) => [c.body?.access_token, c.body?.refresh_token])
      .filter((t): t is string => !!t);
    for (const s of [...issued, SANITY_KEY, WRONG_KEY, hubspot.clientSecret]) {
      expect(h.results.some((r) => r.includes(s))).toBe(false);
      expect(h.logs.some((l) => l.includes(s))).toBe(false);
    }
  });
});
