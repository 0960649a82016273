import { z } from "zod";
import { ROLES } from "../src/catalog/catalog.js";
import { setPrimaryConnector } from "../src/connectors/primaries.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId } from "./_params.js";

export default defineTool({
  name: "set_primary_connector",
  title: "Make a connector the primary for a role",
  description:
    "Make a connected connector the workspace's primary for a role: the primary data source (source), primary sink, or primary CRM sink (crm_sink). " +
    "Use this when several connectors play the same role and the person has said which one to use (resolve_connector answered conflict). " +
    "The previous primary for that role is demoted in the same step; the role is added to the connector when missing. " +
    "Fails with role_not_allowed when the provider cannot play the role. Returns the connector object (primary_for shows its primary roles).",
  inputSchema: z
    .object({
      connector_id: connectorId,
      role: z.enum(ROLES).describe("The role to make it primary for: source, sink or crm_sink"),
    })
    .strict(),
  outputSchema: connectorSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  rest: { method: "POST", path: "/connectors/{id}/primary" },
  handler: async (input, ctx) => setPrimaryConnector(ctx, ctx.workspace_id, input.connector_id, input.role),
});
