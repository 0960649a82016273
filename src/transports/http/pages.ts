/**
 * What the browser pages (sign-in, the connect page) share: the response headers, form bodies, and
 * the CSRF token every form carries (a signed double-submit token, cookies.ts).
 */
import type http from "node:http";
import { escapeHtml, renderPage } from "../callback/html.js";
import { type CookiePolicy, cookieName, type PageKeys, randomToken, readCookies, setCookie } from "./cookies.js";
import { readBody } from "./respond.js";

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

const CSRF = "tnx_csrf";
/** The CSRF cookie outlives a session so a form left open over lunch still posts. */
const CSRF_SECONDS = 12 * 3600;
const FORM_LIMIT = 16 * 1024;

/** The pages' policy: scripts, frames and other origins' assets are all refused; forms post only here. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Send an HTML page with the pages' headers (no caching, no framing, the CSP) and any cookies. */
export function sendPage(
  res: Res,
  status: number,
  html: string,
  opts: { cookies?: string[]; csp?: string; headers?: Record<string, string> } = {},
): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    // Same-origin: the forms' posts carry an Origin header (the Host/Origin check), other sites get no referrer.
    "referrer-policy": "same-origin",
    "content-security-policy": opts.csp ?? PAGE_CSP,
    "content-length": Buffer.byteLength(html),
    ...(opts.cookies?.length ? { "set-cookie": opts.cookies } : {}),
    ...opts.headers,
  });
  res.end(html);
}

/** 303 See Other (a form post continues with a GET), with cookies. */
export function redirect(res: Res, location: string, cookies: string[] = []): void {
  res.writeHead(303, {
    location,
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    ...(cookies.length ? { "set-cookie": cookies } : {}),
  });
  res.end();
}

/** A urlencoded form body, or undefined when it cannot be read. */
export async function readForm(req: Req): Promise<URLSearchParams | undefined> {
  const body = await readBody(req, FORM_LIMIT);
  return body.ok ? new URLSearchParams(body.text) : undefined;
}

/** Hidden CSRF field for a form. */
export function csrfField(token: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(token)}">`;
}

/** The browser's CSRF cookie value, the token its forms carry, and the Set-Cookie when it was just made. */
export interface CsrfCookie {
  token: string;
  cookies: string[];
  value: string;
}

/** CSRF tokens for the pages' forms. */
export class BrowserForms {
  constructor(
    readonly policy: CookiePolicy,
    readonly keys: PageKeys,
  ) {}

  /**
   * The browser's CSRF cookie value, made when it has none (then `cookies` holds its Set-Cookie),
   * and the token its forms carry.
   */
  csrf(req: Req): CsrfCookie {
    const existing = readCookies(req).get(cookieName(this.policy, CSRF));
    if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return { token: this.keys.csrfToken(existing), cookies: [], value: existing };
    const value = randomToken();
    return { token: this.keys.csrfToken(value), cookies: [setCookie(this.policy, CSRF, value, CSRF_SECONDS)], value };
  }

  /** Whether a posted form's CSRF token belongs to this browser. */
  csrfOk(req: Req, form: URLSearchParams): boolean {
    return this.keys.csrfMatches(readCookies(req).get(cookieName(this.policy, CSRF)), form.get("csrf") ?? undefined);
  }

  /** The page for a form that failed its CSRF check (403); nothing changed. */
  sendCsrfRefused(res: Res): void {
    sendPage(
      res,
      403,
      renderPage({
        tone: "error",
        title: "Form expired",
        heading: "This form could not be accepted",
        paragraphs: [
          "The form did not carry this browser's security token (it may be old, or it came from another site), so nothing was done.",
        ],
        next: ["Go back, reload the page and try again."],
      }),
    );
  }
}
