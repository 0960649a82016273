import { ConnectorError, type ErrorCode } from "../common/errors.js";
import { newId } from "../common/ids.js";
import { getConnectorRow } from "../store/connectors.js";
import { expireAbandonedGrants, grantTtlText } from "../store/grants.js";
import type { ConnectorRow } from "../store/schema.js";
import { emitChange, transition } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";
import type { GrantDeps } from "./deps.js";
import type { SessionHandle } from "./elicitations.js";
import type { StartResult } from "./start.js";

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
  /**
   * MCP 2026-07-28, a client that declared `elicitation.url`: there are no server-to-client
   * requests, so the URL elicitation is handed to the transport, which returns it as an
   * `input_required` result; the client retries the call with the person's answer.
   */
  returnUrl?: (req: { url: string; message: string; connector_id: string; expires_at: string }) => void;
  /** MCP 2026-07-28: the retry of such a call, carrying the person's answer; its grant exists already. */
  consentAnswer?: ConsentAnswer;
}

/** The person's answer to a URL elicitation returned as `input_required`, with the grant it belongs to. */
export interface ConsentAnswer {
  connector_id: string;
  authorization_url: string;
  expires_at: string;
  action: "accept" | "decline" | "cancel";
}

/** The sentence a client shows the person when asked to open the authorization URL. */
export function consentMessage(providerName: string, label: string, workspaceName: string): string {
  const as = label && label !== providerName ? ` as "${label}"` : "";
  return (
    `Open this link, check what is asked and press Continue, then sign in to ${providerName} and approve access to connect it to the tenex-connectors workspace "${workspaceName}"${as}. ` +
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
    if (ctx.returnUrl) {
      const message = await messageFor(ctx, started.connector_id);
      ctx.returnUrl({ url: started.authorization_url, message, connector_id: started.connector_id, expires_at: started.expires_at });
      return;
    }
    if (ctx.elicitUrl && ctx.session) {
      const message = await messageFor(ctx, started.connector_id);
      const elicitationId = newId("eli");
      const ttlMs = Math.max(1000, Date.parse(started.expires_at) - ctx.clock());
      ctx.elicitations.track(started.connector_id, elicitationId, ctx.session, ttlMs, () =>
        expireAbandonedGrants(ctx, ctx.workspace_id, [started.connector_id]),
      );
      const fields = { connector_id: started.connector_id, elicitation_id: elicitationId };
      // Not awaited: the person may take minutes to answer the client's prompt, or never.
      ctx.elicitUrl({ url: started.authorization_url, message, elicitationId, timeoutMs: ttlMs }).then(
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
    ctx.log.warn("could not offer the authorization URL to the client; it is in the tool result", {
      connector_id: started.connector_id,
      error: err,
    });
  }
}

async function messageFor(ctx: GrantDeps & ConsentPorts, connectorId: string): Promise<string> {
  const row = await getConnectorRow(ctx.db, ctx.workspace_id, connectorId);
  const ws = await ctx.db.selectFrom("workspaces").select("name").where("id", "=", ctx.workspace_id).executeTakeFirst();
  return consentMessage(ctx.catalog.get(row.provider).def.name, row.label, ws?.name ?? ctx.workspace_id);
}

/** What start_connector_oauth returns on a 2026-07-28 retry: the grant as it is now. */
export interface AnsweredStart {
  connector_id: string;
  authorization_url: string;
  expires_at: string;
  status: "pending" | "connected";
}

/**
 * The retry of a start whose URL elicitation was returned (MCP 2026-07-28). `accept`: the grant
 * as it is now (pending, or connected if the person already finished). `decline`/`cancel`: the
 * pending connector is settled as error (consent_denied) and that error is the answer. A grant
 * that failed or expired meanwhile answers with its own error.
 */
export async function answerConsent(ctx: GrantDeps & ConsentPorts, answer: ConsentAnswer): Promise<AnsweredStart> {
  if (answer.action !== "accept") await settleDeclined(ctx, answer);
  await expireAbandonedGrants(ctx, ctx.workspace_id, [answer.connector_id]);
  const row = await getConnectorRow(ctx.db, ctx.workspace_id, answer.connector_id);
  if (row.status === "pending" || row.status === "connected") {
    return { connector_id: row.id, authorization_url: answer.authorization_url, expires_at: answer.expires_at, status: row.status };
  }
  throw settledError(row);
}

/** A declined prompt ends the grant: the connector stops waiting (its link no longer connects anything). */
async function settleDeclined(ctx: GrantDeps & ConsentPorts, answer: ConsentAnswer): Promise<void> {
  const row = await getConnectorRow(ctx.db, ctx.workspace_id, answer.connector_id);
  if (row.status !== "pending") return;
  const name = ctx.catalog.get(row.provider).def.name;
  const detail =
    `The person ${answer.action === "decline" ? "declined" : "dismissed"} the request to open the ${name} authorization link. ` +
    "Ask them whether they want to connect, then start again with start_connector_oauth.";
  const change = await writeTransaction(ctx.db, (trx) =>
    transition(trx, ctx, row, { move: "settle", to: "error", reason: "consent_denied", detail, events: [{ type: "consent_denied" }] }),
  );
  if (!change) return;
  ctx.log.info("url elicitation declined; connector settled", { connector_id: row.id, action: answer.action });
  emitChange(ctx, change);
}

/** The answer for a grant that ended without connecting: the code its status_reason names, else invalid_state. */
function settledError(row: ConnectorRow): ConnectorError {
  const code: ErrorCode =
    row.status_reason === "consent_denied" || row.status_reason === "state_expired" || row.status_reason === "provider_error"
      ? row.status_reason
      : "invalid_state";
  const why = row.status_reason ? ` (${row.status_reason})` : "";
  return new ConnectorError(code, `Connector ${row.id} is ${row.status}${why}${row.status_detail ? `: ${row.status_detail}` : "."}`);
}
