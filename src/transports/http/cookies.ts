/**
 * Cookies of the browser pages (sign-in, the connect page), and the small signed values they
 * carry. Every cookie is HttpOnly and SameSite=Lax, Path=/; when the server is reached over https
 * (TENEX_PUBLIC_URL is https) it is also Secure and its name has the `__Host-` prefix, so no
 * subdomain and no plain-http page can set or shadow it.
 *
 * CSRF: a signed double-submit token. A random value lives in an HttpOnly cookie; forms carry
 * HMAC(key, value), which a page on another site can neither read nor compute. A form post is
 * accepted only when its token matches the cookie's value.
 */
import crypto from "node:crypto";
import type http from "node:http";

export interface CookiePolicy {
  /** Secure cookies with the `__Host-` prefix (https public URL). */
  secure: boolean;
}

/** A cookie's full name under a policy: `__Host-tnx_session` over https, `tnx_session` otherwise. */
export function cookieName(policy: CookiePolicy, base: string): string {
  return policy.secure ? `__Host-${base}` : base;
}

/** The request's cookies (first value wins for a repeated name). */
export function readCookies(req: http.IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** A Set-Cookie value; `maxAgeSeconds` 0 clears the cookie. */
export function setCookie(policy: CookiePolicy, base: string, value: string, maxAgeSeconds: number): string {
  const parts = [`${cookieName(policy, base)}=${value}`, "Path=/", "HttpOnly", "SameSite=Lax", `Max-Age=${maxAgeSeconds}`];
  if (policy.secure) parts.push("Secure");
  return parts.join("; ");
}

/** A random value for a cookie: 32 bytes, base64url. */
export function randomToken(): string {
  return crypto.randomBytes(32).toString("base64url");
}

/** Keys for the pages' MACs, derived from the server's state key (the same on every instance). */
export class PageKeys {
  private readonly csrfKey: Buffer;
  private readonly signKey: Buffer;

  constructor(stateKey: Buffer) {
    this.csrfKey = Buffer.from(crypto.hkdfSync("sha256", stateKey, Buffer.alloc(0), "tenex pages csrf", 32));
    this.signKey = Buffer.from(crypto.hkdfSync("sha256", stateKey, Buffer.alloc(0), "tenex pages signed values", 32));
  }

  /** The form token for a CSRF cookie value. */
  csrfToken(cookieValue: string): string {
    return crypto.createHmac("sha256", this.csrfKey).update(cookieValue).digest("base64url");
  }

  /** Whether a form's token belongs to the CSRF cookie (constant time). */
  csrfMatches(cookieValue: string | undefined, formToken: string | undefined): boolean {
    if (!cookieValue || !formToken) return false;
    const expected = Buffer.from(this.csrfToken(cookieValue));
    const given = Buffer.from(formToken);
    return expected.length === given.length && crypto.timingSafeEqual(expected, given);
  }

  /** A value the browser carries and cannot change: base64url(JSON) + "." + MAC, with an expiry (epoch ms). */
  sign(purpose: string, value: unknown, expiresAt: number): string {
    const body = Buffer.from(JSON.stringify({ p: purpose, v: value, e: expiresAt })).toString("base64url");
    return `${body}.${crypto.createHmac("sha256", this.signKey).update(body).digest("base64url")}`;
  }

  /** The value of a signed string for this purpose, or undefined when it is forged, for another purpose, or expired. */
  verify<T>(purpose: string, signed: string | undefined, now: number): T | undefined {
    if (!signed) return undefined;
    const dot = signed.indexOf(".");
    if (dot <= 0) return undefined;
    const body = signed.slice(0, dot);
    const mac = Buffer.from(signed.slice(dot + 1));
    const expected = Buffer.from(crypto.createHmac("sha256", this.signKey).update(body).digest("base64url"));
    if (mac.length !== expected.length || !crypto.timingSafeEqual(mac, expected)) return undefined;
    try {
      const parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as { p: string; v: T; e: number };
      if (parsed.p !== purpose || typeof parsed.e !== "number" || parsed.e <= now) return undefined;
      return parsed.v;
    } catch {
      return undefined;
    }
  }
}

/** A local path to return to after sign-in: one leading slash, no scheme, no host, no backslash; else `/login`. */
export function safeReturnTo(raw: string | undefined | null): string {
  if (!raw || raw.length > 512) return "/login";
  if (!raw.startsWith("/") || raw.startsWith("//") || raw.includes("\\")) return "/login";
  // Control characters (a browser drops tabs and newlines, turning "/\t/evil.com" into "//evil.com").
  if ([...raw].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return "/login";
  try {
    const u = new URL(raw, "http://local.invalid");
    if (u.origin !== "http://local.invalid") return "/login";
    return `${u.pathname}${u.search}`;
  } catch {
    return "/login";
  }
}
