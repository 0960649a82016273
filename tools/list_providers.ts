import { z } from "zod";
import { AUTH_TYPES, ROLES } from "../src/catalog/catalog.js";
import { listProviders } from "../src/catalog/listing.js";
import { defineTool } from "../src/transports/tool.js";

const providerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    auth_types: z.array(z.enum(AUTH_TYPES)),
    roles: z.array(z.enum(ROLES)),
    default_scopes: z.array(z.string()).describe("The scopes every OAuth grant asks for (what the provider needs to work)"),
    allowed_scopes: z
      .array(z.string())
      .describe(
        "Every scope start_connector_oauth accepts for this provider: the default scopes plus the extras it allows; any other scope is refused",
      ),
    api_version: z
      .string()
      .nullable()
      .describe(
        "The API version this server uses by default (in API paths such as /v26.0/…, or a version header); null when the API is not versioned",
      ),
    api_docs_url: z.string().describe("The provider's API reference: the paths and bodies call_connector takes"),
    api_version_ends: z
      .string()
      .nullable()
      .describe("The day that version stops working (YYYY-MM-DD), when the provider publishes or implies one"),
    configured: z
      .boolean()
      .describe(
        'True when this server has OAuth app credentials for the provider, so start_connector_oauth can work. Always false for API-key-only providers (auth_types ["api_key"]): they need no app; connect them with submit_connector_key.',
      ),
    settings: z.array(z.string()).describe("Names of the per-connector settings the provider accepts"),
    required_settings: z.array(z.string()),
  })
  .strict();

export default defineTool({
  name: "list_providers",
  title: "List providers",
  description:
    "List the SaaS providers this server can connect (Gmail, Outlook, HubSpot, Salesforce, ad platforms, CMSs). " +
    "Use this when you need a provider id, want to know which roles a provider can play, or whether it connects by OAuth or API key. " +
    "`configured: false` on an OAuth provider means an operator must add its OAuth app credentials before start_connector_oauth works; " +
    "providers whose auth_types include api_key (such as Sanity) connect with submit_connector_key whatever `configured` says. " +
    "Returns { providers: [...] }.",
  inputSchema: z
    .object({
      role: z.enum(ROLES).optional().describe("Only providers that can play this role: source, sink or crm_sink"),
    })
    .strict(),
  outputSchema: z.object({ providers: z.array(providerSchema) }).strict(),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  rest: { method: "GET", path: "/providers" },
  handler: async (input, ctx) => ({ providers: listProviders(ctx.catalog, input.role) }),
});
