import { z } from "zod";
import { disableConnector } from "../src/connectors/pause.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId } from "./_params.js";

export default defineTool({
  name: "disable_connector",
  title: "Disable a connector",
  description:
    "Pause a connector: it keeps its credentials, roles and settings but cannot be used (no test, refresh or resolve) until enable_connector. " +
    "Use this when the person wants to stop using an account for a while without disconnecting it. Nothing changes at the provider. " +
    "Returns the connector object (status disabled).",
  inputSchema: z.object({ connector_id: connectorId }).strict(),
  outputSchema: connectorSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  rest: { method: "POST", path: "/connectors/{id}/disable" },
  handler: async (input, ctx) => disableConnector(ctx, ctx.workspace_id, input.connector_id),
});
