// The tool boundary for inputs the SDK's own schema would have refused before our code ran
// (malformed tools/call params), and catalog answers that must not mislead the model:
// list_connectors with an unknown provider, and what list_providers' `configured` means.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Harness, startHarness } from "./support/harness.js";

/** Any JSON-RPC result: the client must not reshape or reject what the server answered. */
const AnyResult = z.looseObject({});
/** What the test then reads from it (parsed, so a wrong shape fails here rather than as undefined). */
const ToolResult = z.object({
  isError: z.boolean().optional(),
  structuredContent: z.looseObject({ error: z.object({ code: z.string(), message: z.string() }).optional() }),
  content: z.array(z.object({ type: z.literal("text"), text: z.string() })),
});

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { TENEX_HUBSPOT_CLIENT_ID: "hubspot-app", TENEX_HUBSPOT_CLIENT_SECRET: "hubspot-app-secret-0123456789" } });
});
afterAll(async () => {
  await h?.close();
});

const rawCall = async (params: unknown) => ToolResult.parse(await h.client.request({ method: "tools/call", params } as never, AnyResult));

describe("malformed tools/call params", () => {
  it("answer invalid_input in the contract's shape (no JSON-RPC error, no zod dump), and the server keeps serving", async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ["missing name", { arguments: {} }, /name/],
      ["name not a string", { name: 42, arguments: {} }, /name/],
      ["no params at all", undefined, /name/],
      ["arguments a string", { name: "list_connectors", arguments: "provider=hubspot" }, /arguments must be an object.*not string/],
      [
        "arguments an array",
        { name: "list_connectors", arguments: [{ provider: "hubspot" }] },
        /arguments must be an object.*not an array/,
      ],
      ["arguments a number", { name: "list_connectors", arguments: 7 }, /arguments must be an object/],
    ];
    for (const [what, params, message] of cases) {
      const res = await rawCall(params);
      expect(res.isError, what).toBe(true);
      expect(res.structuredContent.error, what).toEqual({ code: "invalid_input", message: expect.stringMatching(message) });
      expect(JSON.parse(res.content[0]!.text), what).toEqual(res.structuredContent);
      expect(res.structuredContent.error?.message, what).not.toMatch(/invalid_type|expected|ZodError|"path"/);
    }
    // null arguments mean "no arguments"; a well-formed call still works afterwards.
    expect((await rawCall({ name: "list_connectors", arguments: null })).structuredContent).toEqual({ connectors: [], next_cursor: null });
    expect((await h.ok("list_providers", {})).providers.length).toBe(9);
  });

  it("keeps the JSON-RPC answer for a method that does not exist", async () => {
    await expect(h.client.request({ method: "tools/nope", params: {} } as never, AnyResult)).rejects.toMatchObject({ code: -32601 });
  });
});

describe("list_connectors with an unknown provider", () => {
  it("answers unknown_provider naming the known ones, not an empty list", async () => {
    const err = await h.fail("list_connectors", { provider: "nope" });
    expect(err.code).toBe("unknown_provider");
    expect(err.message).toContain("hubspot");
    expect((await h.ok("list_connectors", { provider: "hubspot" })).connectors).toEqual([]);
  });
});

describe("list_providers configured", () => {
  it("means exactly 'this server has OAuth app credentials': false for API-key-only providers", async () => {
    const providers = (await h.ok("list_providers", {})).providers;
    const configured = Object.fromEntries(providers.map((p) => [p.id, p.configured]));
    expect(configured).toEqual({
      gmail: false,
      outlook: false,
      webflow: false,
      sanity: false,
      google_ads: false,
      linkedin_ads: false,
      meta_ads: false,
      hubspot: true,
      salesforce: false,
    });
    // Sanity still connects: by API key, which needs no app.
    expect(providers.find((p) => p.id === "sanity")).toMatchObject({ auth_types: ["api_key"] });
    const { tools } = await h.client.listTools();
    const described = (text: string) => ({
      providers: { items: { properties: { configured: { description: expect.stringContaining(text) } } } },
    });
    const properties = tools.find((t) => t.name === "list_providers")!.outputSchema!.properties;
    expect(properties).toMatchObject(described("API-key-only providers"));
    expect(properties).toMatchObject(described("submit_connector_key"));
  });
});
