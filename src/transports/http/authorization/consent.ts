/**
 * The authorization server's interaction pages, `/consent/{uid}`: the person signs in as a member
 * (the sign-in pages of issue 16; the browser comes back here), then sees which client asks, where
 * it will send them back, and which workspace it would act in, and presses Allow or Deny.
 *
 * Allow makes the library's grant (the `mcp` scope on `{base}/mcp`), records it for the operator
 * (`clients list`), keeps a dynamic registration from being purged, and finishes the interaction
 * (the library then redirects to the client with a code and `iss`). Deny finishes it with
 * `access_denied`. Both are form posts with the pages' CSRF token.
 */
import type http from "node:http";
import { cleanText } from "../../../common/text.js";
import type { GrantDeps } from "../../../grants/deps.js";
import { recordClientGrant, setServerRecordExpiry } from "../../../store/oauth-server.js";
import { escapeHtml, renderPage } from "../../callback/html.js";
import { csrfField, PAGE_CSP, readForm, redirect, sendPage } from "../pages.js";
import { LOGIN_PATH, type SignIn } from "../signin.js";
import { recordKey } from "./adapter.js";
import { isClientIdUrl } from "./cimd.js";
import { type AuthorizationServer, CONSENT_PREFIX, type InteractionDetails, MCP_SCOPE, type OidcClient } from "./provider.js";

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

export function isConsentPath(path: string): boolean {
  return path.startsWith(CONSENT_PREFIX) && /^[A-Za-z0-9_-]{1,64}$/.test(path.slice(CONSENT_PREFIX.length));
}

/**
 * The page's policy: the pages' own, with the client's redirect target added to form-action (a
 * browser applies form-action to the redirects after a post too, and Allow/Deny end at the client).
 */
function consentCsp(redirectUri: string | undefined): string {
  let target = "";
  try {
    const u = new URL(redirectUri ?? "");
    target = u.protocol === "http:" || u.protocol === "https:" ? u.origin : u.protocol;
  } catch {
    target = "";
  }
  return target && /^[A-Za-z0-9.+:/[\]-]+$/.test(target)
    ? PAGE_CSP.replace("form-action 'self'", `form-action 'self' ${target}`)
    : PAGE_CSP;
}

function hostOf(uri: string | undefined): string {
  try {
    return uri ? new URL(uri).host || uri.split(":")[0] || "" : "";
  } catch {
    return "";
  }
}

export class ConsentPages {
  constructor(
    private readonly ctx: GrantDeps,
    private readonly server: AuthorizationServer,
    private readonly signIn: SignIn,
  ) {}

  async serve(req: Req, res: Res, url: URL): Promise<void> {
    const provider = await this.server.oidc();
    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return this.server.sendError(
        res,
        400,
        "This sign-in request has expired",
        "The request to sign in your MCP client is no longer open in this browser (it lasts 10 minutes and works once).",
      );
    }
    if (`${CONSENT_PREFIX}${details.uid}` !== url.pathname)
      return this.server.sendError(res, 400, "Wrong sign-in request", "This page belongs to another sign-in request.");
    const member = await this.signIn.member(req);
    if (!member) return redirect(res, `${LOGIN_PATH}?return_to=${encodeURIComponent(url.pathname)}`);
    const clientId = details.params.client_id ?? "";
    const client = await provider.Client.find(clientId);
    if (!client) {
      const why = this.server.refused.recent(clientId);
      return this.server.sendError(
        res,
        400,
        "Unknown client",
        why ? `The client's metadata document was refused (${why}).` : "The client is not registered here.",
      );
    }
    if (req.method === "POST") return this.decide(req, res, details, client, member);
    return this.page(req, res, details, client, member);
  }

  private page(
    req: Req,
    res: Res,
    details: InteractionDetails,
    client: OidcClient,
    member: { email: string; workspace_name: string },
  ): void {
    const csrf = this.signIn.csrf(req);
    const action = escapeHtml(`${CONSENT_PREFIX}${details.uid}`);
    const name = cleanText(client.clientName ?? "", 80) || "An MCP client";
    const documentHost = isClientIdUrl(client.clientId) ? hostOf(client.clientId) : "";
    const redirectHost = hostOf(details.params.redirect_uri);
    const html = renderPage({
      tone: "warning",
      title: `Allow ${name}?`,
      heading: `Allow ${name} to use your workspace?`,
      paragraphs: [
        `${name} asks to act in the workspace ${member.workspace_name} as you: list, connect, use and remove its connectors, as a workspace API key can.`,
        documentHost
          ? `The client is identified by a document at ${documentHost}.`
          : "The client registered itself: its name was not checked. Allow only a client you are connecting right now.",
      ],
      facts: [
        ["Client", name],
        ["Sends you back to", redirectHost || "(unknown)"],
        ["Workspace", member.workspace_name],
        ["Signed in as", member.email],
      ],
      forms: `<div>
        <form class="inline" method="post" action="${action}">${csrfField(csrf.token)}<input type="hidden" name="decision" value="allow"><button type="submit">Allow</button></form>
        <form class="inline" method="post" action="${action}">${csrfField(csrf.token)}<input type="hidden" name="decision" value="deny"><button type="submit" class="secondary">Deny</button></form>
      </div>`,
    });
    sendPage(res, 200, html, { cookies: csrf.cookies, csp: consentCsp(details.params.redirect_uri) });
  }

  private async decide(
    req: Req,
    res: Res,
    details: InteractionDetails,
    client: OidcClient,
    member: { id: string; workspace_id: string; email: string },
  ): Promise<void> {
    const form = await readForm(req);
    if (!form || !this.signIn.csrfOk(req, form)) return this.signIn.sendCsrfRefused(res);
    const provider = await this.server.oidc();
    const decision = form.get("decision");
    // Who decided what, for which client and workspace (never a token).
    const decided = { client_id: client.clientId.slice(0, 200), member_id: member.id, workspace_id: member.workspace_id };
    if (decision !== "allow") {
      this.ctx.log.info("mcp client denied", decided);
      await provider.interactionFinished(
        req,
        res,
        { error: "access_denied", error_description: "The member denied access." },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const grant = new provider.Grant({ accountId: member.id, clientId: client.clientId });
    grant.addResourceScope(this.server.resource, MCP_SCOPE);
    // The library also counts the scope as requested of itself (it is in its scope list): granted there too.
    grant.addOIDCScope(MCP_SCOPE);
    const grantId = await grant.save();
    const recorded = await recordClientGrant(this.ctx.db, {
      grant_id: grantId,
      client_id: client.clientId,
      client_name: client.clientName ? cleanText(client.clientName, 200) : null,
      redirect_host: hostOf(details.params.redirect_uri) || null,
      workspace_id: member.workspace_id,
      member_id: member.id,
      member_email: member.email,
      created_at: new Date(this.ctx.clock()).toISOString(),
    });
    // A dynamic registration a member allowed is kept (unused ones are purged after a day).
    if (!isClientIdUrl(client.clientId)) await setServerRecordExpiry(this.ctx.db, recordKey("Client", client.clientId), null);
    this.ctx.log.info("mcp client allowed", { id: recorded.id, ...decided });
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: member.id }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }
}
