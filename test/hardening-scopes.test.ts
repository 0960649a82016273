// Regression (issue 12, finding 11, scopes): an agent may ask only for the scopes the provider
// definition allows (its default scopes plus a declared extra set, shown by list_providers as
// allowed_scopes); anything else is invalid_input naming the allowed ones, and nothing is written.
// The scopes the provider needs to work are always asked for, whatever the agent passes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { continueOnConnectPage } from "./sandbox/consent.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { type Harness, startHubSpotHarness } from "./support/harness.js";

describe("finding 11: scopes an agent may ask for", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;

  beforeAll(async () => {
    ({ sandbox, h } = await startHubSpotHarness());
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  /** The scopes the provider's URL asks for (Continue on the connect page leads there). */
  const askedScopes = async (authorizationUrl: string) =>
    (new URL((await continueOnConnectPage(authorizationUrl)).providerUrl).searchParams.get("scope") ?? "").split(" ");

  it("list_providers shows allowed_scopes: the defaults plus the declared extras", async () => {
    const { providers } = await h.ok("list_providers", {});
    const hubspot = providers.find((p) => p.id === "hubspot");
    const gmail = providers.find((p) => p.id === "gmail");
    expect(hubspot?.allowed_scopes).toEqual([...(hubspot?.default_scopes ?? []), "tickets", "e-commerce"]);
    expect(gmail?.allowed_scopes).toContain("https://www.googleapis.com/auth/gmail.readonly");
    expect(gmail?.allowed_scopes).not.toContain("https://mail.google.com/");
    expect(providers.find((p) => p.id === "sanity")?.allowed_scopes).toEqual([]);
  });

  it("refuses a scope outside the allowed set with invalid_input naming the allowed ones, and writes nothing", async () => {
    const before = await h.ctx.db.selectFrom("connectors").select("id").execute();
    const err = await h.fail("start_connector_oauth", {
      provider: "hubspot",
      scopes: ["crm.objects.contacts.read", "settings.users.write"],
    });
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain('"settings.users.write"');
    expect(err.message).toContain("allowed_scopes");
    expect(err.message).toContain("tickets, e-commerce");
    expect(await h.ctx.db.selectFrom("connectors").select("id").execute()).toEqual(before);
  });

  it("keeps the scopes the provider needs when the agent asks for fewer or for an allowed extra", async () => {
    const { providers } = await h.ok("list_providers", {});
    const defaults = providers.find((p) => p.id === "hubspot")?.default_scopes ?? [];
    const fewer = await h.ok("start_connector_oauth", { provider: "hubspot", scopes: ["crm.objects.contacts.read"] });
    expect((await askedScopes(fewer.authorization_url)).sort()).toEqual([...defaults].sort());
    const extra = await h.ok("start_connector_oauth", { provider: "hubspot", scopes: ["tickets"] });
    expect((await askedScopes(extra.authorization_url)).sort()).toEqual([...defaults, "tickets"].sort());
    const grant = await h.ctx.db
      .selectFrom("oauth_grants")
      .select("scopes")
      .where("connector_id", "=", extra.connector_id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(String(grant.scopes))).toEqual([...defaults, "tickets"]);
  });

  it("a connector made with an allowed extra still connects against the real OAuth server", async () => {
    const { connector_id } = await h.connect("hubspot", { scopes: ["tickets"] }, "scopes-alice");
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("connected");
  });
});
