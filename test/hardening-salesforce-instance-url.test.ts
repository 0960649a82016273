// Issue 12, finding 9: Salesforce `instance_url` decided where the Bearer token goes. Only Salesforce
// domains (or loopback, for test servers) become the API origin; anything else falls back to the
// placeholder login host, where a token is worthless to an attacker.
import { describe, expect, it } from "vitest";
import salesforce from "../providers/salesforce.js";
import { parseProvider } from "../src/catalog/definition.js";

const def = parseProvider(salesforce);
const base = (instance_url: unknown) =>
  def.hooks.apiBaseUrl!({ settings: {}, token_extras: { instance_url: instance_url as string }, env: {} });

describe("finding 9: Salesforce instance_url decides where the Bearer token goes", () => {
  it("accepts Salesforce domains, sandboxes and Government Cloud", () => {
    for (const u of [
      "https://acme.my.salesforce.com",
      "https://acme--dev.sandbox.my.salesforce.com",
      "https://na1.salesforce.com",
      "https://acme.lightning.force.com",
    ]) {
      expect(base(u)).toBe(u);
    }
  });

  it("refuses any other host, plain http off loopback, and look-alikes", () => {
    for (const u of [
      "https://evil.example.com",
      "http://acme.my.salesforce.com",
      "https://salesforce.com.evil.example",
      "https://evil.example/.salesforce.com",
      "javascript:alert(1)",
      42,
    ]) {
      expect(base(u)).toBe("https://login.salesforce.com");
    }
  });
});
