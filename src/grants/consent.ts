import { getConnectorRow } from "../store/connectors.js";
import { expireAbandonedGrants, grantTtlText } from "../store/grants.js";
import { newId } from "../common/ids.js";
import type { StartResult } from "./start.js";
import type { GrantDeps } from "./deps.js";
import type { SessionHandle } from "./elicitations.js";

/** How a grant's URL can reach the person, as the transport of the calling request allows. */
export interface ConsentPorts {
  workspace_id: string;
  /**
   * Asks the client to open a URL (URL-mode elicitation); present only when the client declared
   * `elicitation.url`. Resolves true when the person accepted; `timeoutMs` bounds the wait for that answer.
   */
  elicitUrl?: (req: { url: string; message: string; elicitationId: string; timeoutMs?: number }) => Promise<boolean>;
  /** Remembers which session to notify when an elicitation completes. */
  session?: SessionHandle;
  /** Opens a URL in the person's default browser (stdio mode with --open-browser); absent otherwise. */
  openUrl?: (url: string) => void;
}

/** The sentence a client shows the person when asked to open the authorization URL. */
export function consentMessage(providerName: string, label: string, workspaceName: string): string {
  const as = label && label !== providerName ? ` as "${label}"` : "";
  return (
    `Sign in to ${providerName} and approve access to connect it to the tenex-connectors workspace "${workspaceName}"${as}. ` +
    `The link works once and expires in ${grantTtlText()}; your credentials go to ${providerName} only.`
  );
}

/**
 * Bring the authorization URL to the person, beyond returning it in the tool result:
 * a client that declared URL-mode elicitation is asked to open it (and later gets the
 * elicitation-complete notification); otherwise, with --open-browser in stdio mode, the
 * default browser opens it. Never throws and never waits for the person: the grant exists
 * and the URL is in the result whatever happens here.
 */
export async function offerConsent(ctx: GrantDeps & ConsentPorts, started: StartResult): Promise<void> {
  try {
    if (ctx.elicitUrl && ctx.session) {
      const row = await getConnectorRow(ctx.db, ctx.workspace_id, started.connector_id);
      const providerName = ctx.catalog.get(row.provider).def.name;
      const ws = await ctx.db.selectFrom("workspaces").select("name").where("id", "=", ctx.workspace_id).executeTakeFirst();
      const elicitationId = newId("eli");
      const ttlMs = Math.max(1000, Date.parse(started.expires_at) - ctx.clock());
      ctx.elicitations.track(started.connector_id, elicitationId, ctx.session, ttlMs, () => expireAbandonedGrants(ctx, ctx.workspace_id, [started.connector_id]));
      const fields = { connector_id: started.connector_id, elicitation_id: elicitationId };
      // Not awaited: the person may take minutes to answer the client's prompt, or never.
      ctx
        .elicitUrl({ url: started.authorization_url, message: consentMessage(providerName, row.label, ws?.name ?? ctx.workspace_id), elicitationId, timeoutMs: ttlMs })
        .then(
          (accepted) => {
            ctx.log.info("url elicitation answered", { ...fields, accepted });
            // A declined prompt ends the elicitation; the URL in the result still works.
            if (!accepted) ctx.elicitations.forget(started.connector_id, elicitationId);
          },
          (err: unknown) => {
            ctx.log.warn("url elicitation failed; the authorization URL is in the tool result", { ...fields, error: err });
            ctx.elicitations.forget(started.connector_id, elicitationId);
          },
        );
      return;
    }
    if (ctx.openUrl) ctx.openUrl(started.authorization_url);
  } catch (err) {
    ctx.log.warn("could not offer the authorization URL to the client; it is in the tool result", { connector_id: started.connector_id, error: err });
  }
}
