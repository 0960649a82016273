/**
 * Sign-in for workspace members in HTTP mode: `/login` (email and password, or single sign-on
 * through an OpenID Connect issuer), `/login/workspace` (an email in several workspaces picks
 * one), `/login/callback` (the issuer's redirect) and `/logout`.
 *
 * The session is a random 32-byte cookie value; the database keeps its sha256 (store/members.ts),
 * so it is revocable and removing a member ends it. It lasts SESSION_SECONDS from sign-in. Every
 * form carries a CSRF token (cookies.ts). An unknown email and a wrong password get the same page,
 * the same status and the same work (scrypt always runs), and failures are limited per account and
 * per address (signin-limits.ts). After sign-in the browser goes back to `return_to`, a local path
 * only.
 */
import crypto from "node:crypto";
import type http from "node:http";
import { LoginOidc, LoginOidcError, type LoginOidcSettings } from "../../credentials/login-oidc.js";
import { verifyPassword } from "../../credentials/passwords.js";
import type { GrantDeps } from "../../grants/deps.js";
import {
  createSession,
  emailKey,
  endSession,
  type MemberForSignIn,
  memberById,
  membersByEmail,
  sessionMember,
} from "../../store/members.js";
import { escapeHtml, type PageOptions, renderPage } from "../callback/html.js";
import { type CookiePolicy, cookieName, PageKeys, randomToken, readCookies, safeReturnTo, setCookie } from "./cookies.js";
import { BrowserForms, type CsrfCookie, csrfField, readForm, redirect, sendPage } from "./pages.js";
import { FailedSignIns } from "./signin-limits.js";

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

export const LOGIN_PATH = "/login";
export const LOGIN_WORKSPACE_PATH = "/login/workspace";
export const LOGIN_SSO_PATH = "/login/sso";
export const LOGIN_CALLBACK_PATH = "/login/callback";
export const LOGOUT_PATH = "/logout";

/** A session lasts 8 hours from sign-in: a working day, then sign in again. */
export const SESSION_SECONDS = 8 * 3600;
/** A single sign-on round trip, or a workspace choice, must finish within 10 minutes. */
const FLOW_SECONDS = 600;

const SESSION = "tnx_session";
const SSO = "tnx_sso";

export interface SignInOptions {
  /** Cookies Secure and `__Host-` prefixed (TENEX_PUBLIC_URL is https). */
  secure: boolean;
  /** Single sign-on (TENEX_LOGIN_OIDC_*), when configured. */
  oidc?: LoginOidcSettings | undefined;
}

/** The member a browser is signed in as. */
export interface SignedInMember {
  id: string;
  workspace_id: string;
  workspace_name: string;
  email: string;
}

export class SignIn {
  readonly policy: CookiePolicy;
  readonly keys: PageKeys;
  readonly forms: BrowserForms;
  private readonly limits: FailedSignIns;
  private readonly oidc: LoginOidc | undefined;

  constructor(
    private readonly ctx: GrantDeps,
    opts: SignInOptions,
  ) {
    this.policy = { secure: opts.secure };
    this.keys = new PageKeys(ctx.requestStateKey);
    this.forms = new BrowserForms(this.policy, this.keys);
    this.limits = new FailedSignIns(() => ctx.clock());
    this.oidc = opts.oidc ? new LoginOidc(opts.oidc) : undefined;
  }

  /** The server's base URL as people's browsers reach it (the redirect URI's origin and path prefix). */
  private base(): string {
    return this.ctx.redirectUri.replace(/\/oauth\/callback$/, "");
  }

  /** The member this browser is signed in as, or undefined. */
  async member(req: Req): Promise<SignedInMember | undefined> {
    const token = readCookies(req).get(cookieName(this.policy, SESSION));
    if (!token) return undefined;
    return sessionMember(this.ctx.db, token, this.ctx.clock());
  }

  csrf(req: Req): CsrfCookie {
    return this.forms.csrf(req);
  }

  csrfOk(req: Req, form: URLSearchParams): boolean {
    return this.forms.csrfOk(req, form);
  }

  sendCsrfRefused(res: Res): void {
    this.forms.sendCsrfRefused(res);
  }

  private address(req: Req): string {
    return req.socket.remoteAddress ?? "unknown";
  }

  /** GET /login: the sign-in form, or who is signed in. */
  async loginPage(req: Req, res: Res, url: URL): Promise<void> {
    const returnTo = safeReturnTo(url.searchParams.get("return_to"));
    const csrf = this.csrf(req);
    const member = await this.member(req);
    if (member) {
      sendPage(res, 200, this.signedInPage(member, csrf.token, returnTo), { cookies: csrf.cookies });
      return;
    }
    sendPage(res, 200, this.formPage(csrf.token, returnTo), { cookies: csrf.cookies });
  }

  private signedInPage(member: SignedInMember, csrf: string, returnTo: string): string {
    return renderPage({
      tone: "success",
      title: "Signed in",
      heading: "You are signed in",
      paragraphs: [`You are signed in as ${member.email} in the workspace ${member.workspace_name}.`],
      facts: [
        ["Email", member.email],
        ["Workspace", member.workspace_name],
      ],
      forms: `${returnTo !== LOGIN_PATH ? `<p><a href="${escapeHtml(returnTo)}">Go back to the page you were on</a></p>` : ""}
      <form method="post" action="${LOGOUT_PATH}">${csrfField(csrf)}<button type="submit" class="secondary">Sign out</button></form>`,
    });
  }

  private formPage(csrf: string, returnTo: string, problem?: string, email = ""): string {
    const sso = this.oidc
      ? `<p><a href="${LOGIN_SSO_PATH}?return_to=${encodeURIComponent(returnTo)}">Sign in with single sign-on</a></p>`
      : "";
    return renderPage({
      tone: problem ? "error" : "warning",
      title: "Sign in",
      heading: "Sign in to tenex-connectors",
      paragraphs: [
        ...(problem ? [problem] : []),
        "Sign in as a member of your workspace to connect accounts to it. An operator adds members with `tenex-connectors members add`.",
      ],
      forms: `<form method="post" action="${LOGIN_PATH}">
        ${csrfField(csrf)}
        <input type="hidden" name="return_to" value="${escapeHtml(returnTo)}">
        <label for="email">Email<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(email)}"></label>
        <label for="password">Password<input id="password" name="password" type="password" autocomplete="current-password" required></label>
        <button type="submit">Sign in</button>
      </form>
      ${sso}`,
    });
  }

  /** POST /login: email and password. */
  async loginPost(req: Req, res: Res): Promise<void> {
    const form = await readForm(req);
    if (!form || !this.csrfOk(req, form)) return this.sendCsrfRefused(res);
    const csrf = this.csrf(req);
    const email = (form.get("email") ?? "").slice(0, 254);
    const password = form.get("password") ?? "";
    const returnTo = safeReturnTo(form.get("return_to"));
    const account = emailKey(email);
    const address = this.address(req);
    const wait = this.limits.retryAfter(account, address);
    if (wait > 0) {
      this.ctx.log.warn("sign-in refused: too many failures", { address });
      const html = this.formPage(
        csrf.token,
        returnTo,
        `Too many failed sign-ins for this email or from this network. Try again in ${Math.ceil(wait / 60)} minute(s).`,
        email,
      );
      return sendPage(res, 429, html, { headers: { "retry-after": String(wait) } });
    }
    const memberships = email && password ? await membersByEmail(this.ctx.db, email) : [];
    const matched = await this.passwordMatches(memberships, password);
    if (matched.length === 0) {
      this.limits.fail(account, address);
      this.ctx.log.info("sign-in failed", { address });
      return sendPage(
        res,
        401,
        this.formPage(csrf.token, returnTo, "That email and password do not match a member. Check both and try again.", email),
      );
    }
    this.limits.succeed(account);
    await this.signedIn(req, res, matched, returnTo, csrf);
  }

  /**
   * The memberships whose password this is. The work is one scrypt per membership that has a
   * password, and one when there is none (unknown email, or single sign-on only), so an unknown
   * email costs what a known one does.
   */
  private async passwordMatches(memberships: MemberForSignIn[], password: string): Promise<MemberForSignIn[]> {
    const withPassword = memberships.filter((m) => m.password_hash !== null);
    if (withPassword.length === 0) {
      await verifyPassword(password, undefined);
      return [];
    }
    const ok = await Promise.all(withPassword.map((m) => verifyPassword(password, m.password_hash)));
    return withPassword.filter((_, i) => ok[i]);
  }

  /** One membership: a session now. Several: ask which workspace (the choice signed and bound to this browser). */
  private async signedIn(
    _req: Req,
    res: Res,
    members: Array<Pick<MemberForSignIn, "id" | "workspace_id" | "workspace_name" | "email">>,
    returnTo: string,
    csrf: CsrfCookie,
    extraCookies: string[] = [],
  ): Promise<void> {
    if (members.length === 1) {
      const cookie = await this.startSession(members[0]!);
      return redirect(res, returnTo, [...extraCookies, ...csrf.cookies, cookie]);
    }
    const choice = this.keys.sign(
      "workspace-choice",
      { m: members.map((m) => m.id), c: sha256(csrf.value), r: returnTo },
      this.ctx.clock() + FLOW_SECONDS * 1000,
    );
    const options = members
      .map(
        (m, i) =>
          `<label><input type="radio" name="member" value="${escapeHtml(m.id)}"${i === 0 ? " checked" : ""}> ${escapeHtml(m.workspace_name)}</label>`,
      )
      .join("\n          ");
    const html = renderPage({
      tone: "warning",
      title: "Choose a workspace",
      heading: "Which workspace?",
      paragraphs: [`${members[0]!.email} is a member of several workspaces. Choose the one to sign in to.`],
      forms: `<form method="post" action="${LOGIN_WORKSPACE_PATH}">
        ${csrfField(csrf.token)}
        <input type="hidden" name="choice" value="${escapeHtml(choice)}">
        <fieldset>
          <legend>Workspace</legend>
          ${options}
        </fieldset>
        <button type="submit">Continue</button>
      </form>`,
    });
    sendPage(res, 200, html, { cookies: [...extraCookies, ...csrf.cookies] });
  }

  private async startSession(m: Pick<MemberForSignIn, "id" | "workspace_id">): Promise<string> {
    const token = randomToken();
    const now = this.ctx.clock();
    await createSession(this.ctx.db, {
      token,
      member_id: m.id,
      workspace_id: m.workspace_id,
      expires_at: now + SESSION_SECONDS * 1000,
      now: new Date(now).toISOString(),
    });
    this.ctx.log.info("member signed in", { member_id: m.id, workspace_id: m.workspace_id });
    return setCookie(this.policy, SESSION, token, SESSION_SECONDS);
  }

  /** POST /login/workspace: the workspace chosen after the password (or single sign-on). */
  async chooseWorkspace(req: Req, res: Res): Promise<void> {
    const form = await readForm(req);
    if (!form || !this.csrfOk(req, form)) return this.sendCsrfRefused(res);
    const csrf = this.csrf(req);
    const choice = this.keys.verify<{ m: string[]; c: string; r: string }>(
      "workspace-choice",
      form.get("choice") ?? undefined,
      this.ctx.clock(),
    );
    const memberId = form.get("member") ?? "";
    if (!choice || choice.c !== sha256(csrf.value) || !choice.m.includes(memberId)) {
      return sendPage(res, 400, this.formPage(csrf.token, LOGIN_PATH, "That choice expired. Sign in again."));
    }
    const member = await memberById(this.ctx.db, memberId);
    if (!member) return sendPage(res, 400, this.formPage(csrf.token, LOGIN_PATH, "That membership no longer exists. Sign in again."));
    const cookie = await this.startSession(member);
    redirect(res, safeReturnTo(choice.r), [cookie]);
  }

  /** GET /login/sso: off to the issuer, with state and nonce in a signed cookie (the PKCE verifier is derived, never sent). */
  async ssoStart(req: Req, res: Res, url: URL): Promise<void> {
    if (!this.oidc) return this.notConfigured(res);
    const returnTo = safeReturnTo(url.searchParams.get("return_to"));
    const state = randomToken();
    const flow = this.keys.sign("sso", { s: state, r: returnTo }, this.ctx.clock() + FLOW_SECONDS * 1000);
    const target = await this.oidc.authorizationUrl({
      redirectUri: `${this.base()}${LOGIN_CALLBACK_PATH}`,
      state,
      ...this.ssoSecrets(state),
    });
    const csrf = this.csrf(req);
    redirect(res, target.href, [...csrf.cookies, setCookie(this.policy, SSO, flow, FLOW_SECONDS)]);
  }

  /** The nonce and PKCE verifier of a sign-on, derived from its state with the server's key: nothing secret travels in the cookie. */
  private ssoSecrets(state: string): { nonce: string; verifier: string } {
    return { nonce: this.keys.csrfToken(`sso-nonce:${state}`), verifier: this.keys.csrfToken(`sso-pkce:${state}`) };
  }

  /** GET /login/callback: the issuer's answer; the member is found by the verified email. */
  async ssoCallback(req: Req, res: Res, url: URL): Promise<void> {
    if (!this.oidc) return this.notConfigured(res);
    const clearFlow = setCookie(this.policy, SSO, "", 0);
    const flow = this.keys.verify<{ s: string; r: string }>("sso", readCookies(req).get(cookieName(this.policy, SSO)), this.ctx.clock());
    const csrf = this.csrf(req);
    if (!flow)
      return this.refuse(res, 400, "Single sign-on expired", "This sign-in started too long ago, or in another browser. Start it again.", [
        clearFlow,
      ]);
    let email: string;
    try {
      ({ email } = await this.oidc.finish(new URL(`${this.base()}${LOGIN_CALLBACK_PATH}${url.search}`), {
        state: flow.s,
        ...this.ssoSecrets(flow.s),
      }));
    } catch (err) {
      if (!(err instanceof LoginOidcError)) throw err;
      this.ctx.log.info("single sign-on refused", { reason: err.message });
      return this.refuse(res, 403, "Single sign-on failed", `Could not sign you in: ${err.message}.`, [clearFlow]);
    }
    const memberships = await membersByEmail(this.ctx.db, email);
    if (memberships.length === 0) {
      this.ctx.log.info("single sign-on refused: not a member");
      return this.refuse(
        res,
        403,
        "Not a member",
        `${email} is not a member of any workspace on this server. Ask an operator to add you with \`tenex-connectors members add\`.`,
        [clearFlow],
      );
    }
    await this.signedIn(req, res, memberships, safeReturnTo(flow.r), csrf, [clearFlow]);
  }

  private refuse(res: Res, status: number, title: string, text: string, cookies: string[] = []): void {
    sendPage(
      res,
      status,
      renderPage({ tone: "error", title, heading: title, paragraphs: [text], next: [`Sign in again at ${LOGIN_PATH}.`] }),
      { cookies },
    );
  }

  private notConfigured(res: Res): void {
    this.refuse(res, 404, "Single sign-on is not set up", "This server has no single sign-on. Sign in with your email and password.");
  }

  /** GET /logout: a button (signing out is a form post, so a link on another site cannot sign anyone out). */
  async logoutPage(req: Req, res: Res): Promise<void> {
    const csrf = this.csrf(req);
    const member = await this.member(req);
    const page: PageOptions = member
      ? {
          tone: "warning",
          title: "Sign out",
          heading: "Sign out?",
          paragraphs: [`You are signed in as ${member.email} in the workspace ${member.workspace_name}.`],
          forms: `<form method="post" action="${LOGOUT_PATH}">${csrfField(csrf.token)}<button type="submit">Sign out</button></form>`,
        }
      : { tone: "success", title: "Signed out", heading: "You are not signed in", paragraphs: ["Nothing to do here."] };
    sendPage(res, 200, renderPage(page), { cookies: csrf.cookies });
  }

  /** POST /logout: the session ends on the server and its cookie is cleared. */
  async logoutPost(req: Req, res: Res): Promise<void> {
    const form = await readForm(req);
    if (!form || !this.csrfOk(req, form)) return this.sendCsrfRefused(res);
    const token = readCookies(req).get(cookieName(this.policy, SESSION));
    if (token) await endSession(this.ctx.db, token, this.ctx.clock());
    sendPage(
      res,
      200,
      renderPage({
        tone: "success",
        title: "Signed out",
        heading: "You are signed out",
        paragraphs: ["Your session has ended on the server."],
      }),
      { cookies: [setCookie(this.policy, SESSION, "", 0)] },
    );
  }
}

function sha256(s: string): string {
  return crypto.createHash("sha256").update(s).digest("base64url");
}
