import { z } from "zod";
import { waitForConnector } from "../src/grants/wait.js";
import { connectorSchema } from "../src/store/connectors.js";
import { grantTtlText } from "../src/store/grants.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId } from "./_params.js";

export default defineTool({
  name: "wait_for_connector",
  title: "Wait for a connector to finish connecting",
  description:
    "Wait until a pending connector leaves pending (the person approved or declined in the browser, or the grant failed), then return it. " +
    "Use this when start_connector_oauth has just returned and the person has the authorization URL, instead of calling get_connector_status in a loop. " +
    "Returns the connector object as soon as its status changes, or after timeout_seconds with its current status (still pending is not an error: ask the person whether they opened the link, then wait again). " +
    `When the authorization link expires (${grantTtlText()} after start_connector_oauth) before the person finishes, the wait ends then with the error code state_expired; when the person declines, with consent_denied (start again with start_connector_oauth, passing connector_id to keep the connector); when a connector reconnected in place gets consent from another provider account than it had, with conflict (status_reason account_mismatch: nothing changed; start a new connector for the other account). ` +
    "Sends a progress notification every second when the request carries a progress token, so clients with request timeouts can keep the call alive. " +
    "A connector that is not pending is returned at once.",
  inputSchema: z
    .object({
      connector_id: connectorId.describe("The connector id from start_connector_oauth, con_…"),
      timeout_seconds: z.number().int().min(1).max(300).default(120).describe("How long to wait at most, 1-300 seconds (default 120)"),
    })
    .strict(),
  outputSchema: connectorSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  rest: { method: "GET", path: "/connectors/{id}/wait" },
  handler: async (input, ctx) => {
    const connector = await waitForConnector(ctx, ctx.workspace_id, input.connector_id, {
      timeoutMs: input.timeout_seconds * 1000,
      signal: ctx.signal,
      progress: ctx.progress,
    });
    await ctx.clientLog?.("info", {
      message: `wait_for_connector ended: ${connector.status}`,
      connector_id: connector.id,
      status: connector.status,
    });
    return connector;
  },
});
