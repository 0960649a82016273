import { z } from "zod";
import { revokeConnector } from "../src/connectors/removal.js";
import { connectorSchema } from "../src/store/connectors.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId, providerRevocation } from "./_params.js";

export default defineTool({
  name: "revoke_connector",
  title: "Revoke a connector's access",
  description:
    "End a connector's access: revokes the grant at the provider where it offers revocation, wipes the stored tokens or key, and sets status revoked. " +
    "Use this when the person wants to disconnect an account but keep the connector's record (use delete_connector to remove it entirely, " +
    "disable_connector to pause it while keeping its credentials). It cannot be undone; the person can reconnect later with start_connector_oauth and this connector_id. " +
    "provider_revocation says what happened at the provider: revoked, not_offered (the provider has no revocation; the person can remove the app there), " +
    "failed (the tokens were wiped here anyway) or not_needed. Returns { connector, provider_revocation }.",
  inputSchema: z.object({ connector_id: connectorId }).strict(),
  outputSchema: z
    .object({
      connector: connectorSchema,
      provider_revocation: providerRevocation,
    })
    .strict(),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  rest: { method: "POST", path: "/connectors/{id}/revoke" },
  handler: async (input, ctx) => revokeConnector(ctx, ctx.workspace_id, input.connector_id),
});
