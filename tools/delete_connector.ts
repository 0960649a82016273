import { z } from "zod";
import { deleteConnector } from "../src/connectors/removal.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId, providerRevocation } from "./_params.js";

export default defineTool({
  name: "delete_connector",
  title: "Delete a connector",
  description:
    "Remove a connector for good: revokes its grant at the provider where possible (best effort), then deletes the connector, its stored secrets, " +
    "pending grants and primary roles. Use this when the person no longer wants the account connected at all. It cannot be undone; " +
    "connecting again creates a new connector. Returns { deleted: true, connector_id, provider_revocation }.",
  inputSchema: z.object({ connector_id: connectorId }).strict(),
  outputSchema: z
    .object({
      deleted: z.literal(true),
      connector_id: z.string(),
      provider_revocation: providerRevocation,
    })
    .strict(),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  rest: { method: "DELETE", path: "/connectors/{id}" },
  handler: async (input, ctx) => deleteConnector(ctx, ctx.workspace_id, input.connector_id),
});
