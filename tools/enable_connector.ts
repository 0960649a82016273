import { z } from "zod";
import { enableConnector } from "../src/connectors/pause.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId } from "./_params.js";

export default defineTool({
  name: "enable_connector",
  title: "Enable a disabled connector",
  description:
    "Make a disabled connector usable again. Use this when the person wants to resume an account paused with disable_connector. " +
    "It comes back connected when its credentials are still good, or expired when its access ended meanwhile (then ask the person to consent again). " +
    "Run test_connector afterwards to check it. Returns the connector object.",
  inputSchema: z.object({ connector_id: connectorId }).strict(),
  outputSchema: connectorSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  rest: { method: "POST", path: "/connectors/{id}/enable" },
  handler: async (input, ctx) => enableConnector(ctx, ctx.workspace_id, input.connector_id),
});
