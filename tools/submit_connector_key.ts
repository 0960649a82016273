import { z } from "zod";
import { submitConnectorKey } from "../src/connectors/byok.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";
import { roles, settings } from "./_params.js";

export default defineTool({
  name: "submit_connector_key",
  title: "Connect an account with an API key",
  description:
    "Connect a SaaS account with an API key the person gives you (bring your own key), for providers that accept keys: Sanity (project API token), " +
    "Webflow (site or workspace token) and Meta Ads (system-user token); list_providers shows auth_types including api_key. " +
    "Use this when the person pastes a key instead of signing in. The key is checked first with the provider's lightest read; " +
    "if the provider refuses it you get a provider_error with the provider's reason and nothing is stored. " +
    "Sanity needs settings.project_id and settings.dataset. The key is stored encrypted and never shown again. " +
    "Returns the new connector object (status connected, with the account facts the check found).",
  inputSchema: z
    .object({
      provider: z.string().min(1).max(64).describe("Provider id from list_providers, e.g. sanity"),
      api_key: z.string().min(1).max(4096).describe("The API key or token exactly as the person gave it; stored encrypted, never returned"),
      label: z.string().min(1).max(200).optional().describe("A name for this connection, e.g. 'Marketing site CMS'"),
      roles,
      settings: settings.describe(
        "Per-connector settings, checked against the provider's settings (Sanity: project_id and dataset are required)",
      ),
    })
    .strict(),
  outputSchema: connectorSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  rest: { method: "POST", path: "/connectors/keys", status: 201 },
  handler: async (input, ctx) => submitConnectorKey(ctx, ctx.workspace_id, input),
});
