import { z } from "zod";
import { refreshConnector } from "../src/connectors/checks.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId } from "./_params.js";

export default defineTool({
  name: "refresh_connector",
  title: "Refresh a connector's access token now",
  description:
    "Renew a connected OAuth connector's access token now with its refresh token. " +
    "Use this only when the person asks, or to confirm that renewal still works: tokens are already refreshed automatically before they expire. " +
    "Providers without refresh tokens (Meta Ads, LinkedIn without partner access) or with non-expiring tokens (Webflow) answer refreshed: false " +
    "with a detail saying when access ends and what to do. If the provider refuses the refresh token (invalid_grant) the connector turns expired " +
    "and the error says to ask the person to consent again. Returns { refreshed, access_expires_at, detail, connector }.",
  inputSchema: z.object({ connector_id: connectorId }).strict(),
  outputSchema: z
    .object({
      refreshed: z.boolean().describe("True when a new access token was obtained"),
      access_expires_at: z.string().nullable().describe("When the current access token expires, when the provider says"),
      detail: z.string().describe("What happened, in words"),
      connector: connectorSchema,
    })
    .strict(),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  rest: { method: "POST", path: "/connectors/{id}/refresh" },
  handler: async (input, ctx) => refreshConnector(ctx, ctx.workspace_id, input.connector_id),
});
