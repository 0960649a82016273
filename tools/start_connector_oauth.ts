import { z } from "zod";
import { answerConsent, offerConsent } from "../src/grants/consent.js";
import { startOAuth } from "../src/grants/start.js";
import { grantTtlText } from "../src/store/grants.js";
import { CONNECT_CARD_URI } from "../src/transports/mcp-app.js";
import { defineTool } from "../src/transports/tool.js";
import { connectorId, roles, settings } from "./_params.js";

export default defineTool({
  name: "start_connector_oauth",
  title: "Start connecting an account (OAuth)",
  description:
    "Start connecting a SaaS account through OAuth: creates a pending connector and returns its connect link (authorization_url), a page of this server that shows the person what is asked, checks who opens it, and then sends them to the provider. " +
    "Use this when the person wants to connect Gmail, Outlook, HubSpot, Salesforce, Google Ads, LinkedIn Ads, Meta Ads or Webflow. " +
    "Prerequisite: the provider is configured (list_providers shows configured: true). " +
    `Show the authorization_url to the person and ask them to open it in their own browser, press Continue and approve at the provider; the link works once and expires after ${grantTtlText()}. ` +
    "Never send the link to anyone else: whoever finishes it chooses the account the workspace gets (in HTTP mode only a signed-in member of the workspace can). " +
    "A client that supports URL elicitation is also asked to open the link itself (and is notified when consent finishes); " +
    "on MCP 2026-07-28 that request comes back as input_required and the client's retry returns this result with status pending, or connected if consent already finished (declining ends the grant with consent_denied). " +
    "Then call wait_for_connector with connector_id to learn the outcome without polling (or get_connector_status). " +
    "To renew a connector that stopped working (status expired, revoked or error), pass its connector_id: the person consents again and the same connector comes back. " +
    "A connected, pending or disabled connector cannot be reconnected in place (invalid_state): to change a working connector's scopes or account, start a new connector, or revoke it first. " +
    'Returns { connector_id, authorization_url, expires_at, status: "pending" }.',
  inputSchema: z
    .object({
      provider: z.string().min(1).max(64).describe("Provider id from list_providers, e.g. hubspot"),
      label: z.string().min(1).max(200).optional().describe("A name for this connection, e.g. 'Sales HubSpot'"),
      roles,
      scopes: z
        .array(z.string().min(1).max(300))
        .max(50)
        .optional()
        .describe(
          "Extra OAuth scopes to request on top of the provider's defaults (always requested); each must be in the provider's allowed_scopes from list_providers, or the call fails with invalid_input",
        ),
      settings,
      connector_id: connectorId
        .optional()
        .describe(
          "Reconnect this existing connector (only when expired, revoked or in error) instead of creating a new one: it keeps its id, roles, settings and primaries",
        ),
    })
    .strict(),
  outputSchema: z
    .object({
      connector_id: z.string(),
      authorization_url: z.string(),
      expires_at: z.string(),
      status: z.enum(["pending", "connected"]),
    })
    .strict(),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  rest: { method: "POST", path: "/connectors/oauth", status: 201 },
  // Hosts that render MCP Apps show the connect card with the result; others get the result alone.
  ui: { resourceUri: CONNECT_CARD_URI },
  handler: async (input, ctx) => {
    // The 2026-07-28 retry after the returned URL elicitation: the grant was started by the first call.
    if (ctx.consentAnswer) return answerConsent(ctx, ctx.consentAnswer);
    const started = await startOAuth(ctx, ctx.workspace_id, input, { keyId: ctx.key_id ?? null, clientName: ctx.client_name });
    await offerConsent(ctx, started);
    return started;
  },
});
