import { z } from "zod";
import { updateConnector } from "../src/connectors/update.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId, roles, settings } from "./_params.js";

export default defineTool({
  name: "update_connector",
  title: "Update a connector's label, settings or roles",
  description:
    "Change a connector's label, per-connector settings (e.g. Gmail sender_alias, Google Ads customer_id, Webflow site_id) or roles. " +
    "Use this when the person wants a connector to use another account, site or mailbox alias, or to play a different role. " +
    "settings are merged into the current ones (a null value removes a setting) and checked against the provider's settings; unknown fields are refused. " +
    "roles replaces the list; removing a role also removes the connector as primary for it. " +
    "Changing an API-key connector's required settings (Sanity project_id or dataset) checks the key against them first. " +
    "Returns the updated connector object.",
  inputSchema: z
    .object({
      connector_id: connectorId,
      label: z.string().min(1).max(200).optional().describe("New name for this connection"),
      settings: settings.describe("Settings to change; merged into the current ones, null removes a setting"),
      roles: roles.describe("The complete new list of roles (source, sink, crm_sink) allowed for the provider"),
    })
    .strict(),
  outputSchema: connectorSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  rest: { method: "PATCH", path: "/connectors/{id}" },
  handler: async (input, ctx) => updateConnector(ctx, ctx.workspace_id, input.connector_id, input),
});
