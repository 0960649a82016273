/**
 * The connect page, `{base}/connect/{id}` (grants/connect.ts): it names the workspace, the
 * provider, the connection's label, the access asked and who asked, with "Continue" and "Cancel"
 * (form posts with a CSRF token). Continue binds the grant to this browser (a short-lived HttpOnly
 * cookie) and answers 303 to the provider's authorization URL; Cancel ends the grant
 * (`consent_denied`). Served by the stdio callback listener (loopback only) and by HTTP mode,
 * where a gate (http/connect-gate.ts) first asks for a signed-in member of the workspace.
 */
import type http from "node:http";
import { isLoopbackHost } from "../../catalog/catalog.js";
import { CONNECT_PREFIX, type ConnectView, cancelConnectLink, continueConnectLink, readConnectLink } from "../../grants/connect.js";
import type { GrantDeps } from "../../grants/deps.js";
import { type CookiePolicy, PageKeys, randomToken, setCookie } from "../http/cookies.js";
import { BrowserForms, csrfField, PAGE_CSP, readForm, redirect, sendPage } from "../http/pages.js";
import { escapeHtml, renderPage } from "./html.js";

type Req = http.IncomingMessage;
type Res = http.ServerResponse;
type OpenView = Exclude<ConnectView, { kind: "unknown" }>;

/** Who may use a connect link, decided before the page is shown or a post is acted on. */
export interface ConnectGate {
  /** "ok": go on; "answered": the gate sent a response (sign in first, a refusal), and nothing changed. */
  check(req: Req, res: Res, view: OpenView, path: string): Promise<"ok" | "answered">;
}

export { isConnectPath } from "../../grants/connect.js";

/** The stdio listener's rule: the connect page is served to loopback peers only. */
export const loopbackOnly: ConnectGate = {
  async check(req, res) {
    const peer = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    if (isLoopbackHost(peer)) return "ok";
    sendPage(
      res,
      403,
      renderPage({
        tone: "error",
        title: "Not available here",
        heading: "This page is served only on this computer",
        paragraphs: ["Open the link in a browser on the computer where your assistant runs."],
      }),
    );
    return "answered";
  },
};

export class ConnectPages {
  private readonly forms: BrowserForms;

  constructor(
    private readonly ctx: GrantDeps,
    private readonly gate: ConnectGate,
    private readonly policy: CookiePolicy = { secure: false },
  ) {
    this.forms = new BrowserForms(policy, new PageKeys(ctx.requestStateKey));
  }

  /** GET (and HEAD) shows the page, POST acts on Continue or Cancel; nothing but Continue uses the link up. */
  async serve(req: Req, res: Res, path: string): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST") {
      res.writeHead(405, { allow: "GET, HEAD, POST", "cache-control": "no-store" }).end();
      return;
    }
    const id = path.slice(CONNECT_PREFIX.length);
    const view = await readConnectLink(this.ctx, id);
    if (view.kind === "unknown")
      return this.status(
        res,
        404,
        "Unknown link",
        "This link is not one this server made",
        "Check that you copied the whole link, or ask your assistant for a new one.",
      );
    if ((await this.gate.check(req, res, view, path)) === "answered") return;
    if (req.method === "POST") return this.post(req, res, id, view);
    if (view.kind !== "open") return this.closed(res, view);
    const csrf = this.forms.csrf(req);
    const html = this.page(view, csrf.token, path);
    // The Continue post is answered with a redirect to the provider: the form may go there.
    const csp = view.provider_origin ? PAGE_CSP.replace("form-action 'self'", `form-action 'self' ${view.provider_origin}`) : PAGE_CSP;
    sendPage(res, 200, req.method === "HEAD" ? "" : html, { cookies: csrf.cookies, csp });
  }

  private async post(req: Req, res: Res, id: string, view: OpenView): Promise<void> {
    const form = await readForm(req);
    if (!form || !this.forms.csrfOk(req, form)) return this.forms.sendCsrfRefused(res);
    if (form.get("action") === "cancel") {
      if (!(await cancelConnectLink(this.ctx, id))) return this.closed(res, (await this.reread(id)) ?? view);
      return this.status(
        res,
        200,
        `${view.provider} not connected`,
        `You cancelled: ${view.provider} was not connected`,
        "Nothing was connected and nothing was stored. Close this tab; your assistant sees the result on its own.",
        "warning",
      );
    }
    if (form.get("action") !== "continue") return this.forms.sendCsrfRefused(res);
    const binding = randomToken();
    const done = await continueConnectLink(this.ctx, id, binding);
    if (!done.ok)
      return done.view.kind === "unknown"
        ? this.status(res, 404, "Unknown link", "This link is not one this server made", "")
        : this.closed(res, done.view);
    const seconds = Math.max(60, Math.ceil((Date.parse(done.expires_at) - this.ctx.clock()) / 1000));
    redirect(res, done.url, [setCookie(this.policy, done.cookie, binding, seconds)]);
  }

  private async reread(id: string): Promise<OpenView | undefined> {
    const v = await readConnectLink(this.ctx, id);
    return v.kind === "unknown" ? undefined : v;
  }

  private page(view: OpenView, csrf: string, path: string): string {
    const who = view.requested_by
      ? `${view.requested_by} (the name your MCP client gives itself)`
      : "an MCP client (it did not give its name)";
    const scopes = view.scopes.length ? view.scopes.join(", ") : "the provider's default access";
    const action = escapeHtml(path);
    return renderPage({
      tone: "warning",
      title: `Connect ${view.provider}`,
      heading: `Connect ${view.provider} to the workspace ${view.workspace_name}?`,
      paragraphs: [
        `An assistant asked to connect a ${view.provider} account to the tenex-connectors workspace "${view.workspace_name}". Continue only if you asked for this yourself.`,
        `You will sign in at ${view.provider}; your password goes to ${view.provider} only. Whatever account you approve there is what the workspace's assistants will use.`,
      ],
      facts: [
        ["Workspace", view.workspace_name],
        ["Provider", view.provider],
        ["Connection", view.label],
        ["Access asked", scopes],
        ["Asked by", who],
        ["Link expires", `${view.expires_at.replace("T", " ").replace(/\.\d+Z$/, " UTC")}`],
      ],
      forms: `<div>
        <form class="inline" method="post" action="${action}">${csrfField(csrf)}<input type="hidden" name="action" value="continue"><button type="submit">Continue to ${escapeHtml(view.provider)}</button></form>
        <form class="inline" method="post" action="${action}">${csrfField(csrf)}<input type="hidden" name="action" value="cancel"><button type="submit" class="secondary">Cancel</button></form>
      </div>`,
    });
  }

  private closed(res: Res, view: OpenView): void {
    const [title, heading, text] =
      view.kind === "expired"
        ? [
            "Link expired",
            `This ${view.provider} link expired`,
            "Links last 10 minutes. Ask your assistant to start the connection again; you will get a new link.",
          ]
        : view.kind === "used"
          ? [
              "Link already used",
              `This ${view.provider} link was already used`,
              "Continue was already pressed for this link (it works once). If you did not finish, ask your assistant for a new link.",
            ]
          : [
              "Link no longer waiting",
              `This ${view.provider} connection is no longer waiting`,
              "It was finished, cancelled or removed. Ask your assistant for a new link if you still want to connect.",
            ];
    this.status(res, 410, title, heading, text);
  }

  private status(res: Res, code: number, title: string, heading: string, text: string, tone: "warning" | "error" = "error"): void {
    sendPage(res, code, renderPage({ tone, title, heading, paragraphs: text ? [text] : [], next: ["Close this tab."] }));
  }
}
