import { z } from "zod";
import { ROLES } from "../src/catalog/catalog.js";
import { resolveConnector } from "../src/connectors/primaries.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";

export default defineTool({
  name: "resolve_connector",
  title: "Find the connector to use for a role",
  description:
    'Answer "which connector should I use for role R?": the workspace\'s primary for that role, else the only connected connector playing it. ' +
    "Use this before reading from a data source or writing to a sink or CRM, instead of guessing from list_connectors. " +
    "Errors: conflict when several connected connectors play the role and none is primary (the message lists them: ask the person, then call set_primary_connector); " +
    "not_found when none is connected; invalid_state when the primary is disabled, expired or revoked. Returns the connector object.",
  inputSchema: z
    .object({
      role: z.enum(ROLES).describe("The role: source, sink or crm_sink"),
      provider: z.string().min(1).max(64).optional().describe("Only consider connectors of this provider id, e.g. hubspot"),
    })
    .strict(),
  outputSchema: connectorSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  rest: { method: "GET", path: "/resolve" },
  handler: async (input, ctx) => resolveConnector(ctx, ctx.workspace_id, input.role, input.provider),
});
