/**
 * What a proxied call (call_connector, the raw REST proxy) may ask of a provider: the origins it may
 * reach, the request headers it may pass, the response headers it gets back, and how a body is read.
 * An SSRF boundary built from allow lists: anything not on them is refused (`invalid_input`) before a
 * request is made.
 */
import { ConnectorError } from "../common/errors.js";
import { apiBaseUrl, providerHeaders } from "./api.js";
import type { ConnectionView, Provider } from "./catalog.js";

export const PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
export type ProxyMethod = (typeof PROXY_METHODS)[number];

/** Request headers any provider's calls may pass; a definition adds its own (`api.request_headers`). */
export const COMMON_REQUEST_HEADERS = [
  "accept",
  "accept-language",
  "content-type",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "idempotency-key",
] as const;

/** Never passed on, whatever a definition says: the server's credential, the caller's, and the connection's own framing. */
const NEVER_PASSED =
  /^(authorization|cookie|cookie2|host|content-length|connection|keep-alive|te|trailer|transfer-encoding|upgrade|expect|forwarded|via|x-forwarded-.*|proxy-.*)$/;

/** Response headers a caller gets back: the type, paging, caching, redirects and rate limits. */
const KEPT_RESPONSE =
  /^(content-type|retry-after|link|etag|location|last-modified|sforce-limit-info|x-(app|business-use-case|ad-account)-usage)$/;
const RATE_LIMIT = /(^|-)rate-?limit/;

export type QueryValue = string | number | boolean | Array<string | number | boolean>;

/** The origins a connection's proxied calls may reach: the operator's override alone, else the API base and the definition's extras. */
export function proxyOrigins(provider: Provider, view: ConnectionView): string[] {
  if (provider.api_base_url_override) return [new URL(provider.api_base_url_override).origin];
  const origins = [new URL(apiBaseUrl(provider, view)).origin, ...provider.def.api.extra_origins];
  for (const o of provider.def.hooks.extraApiOrigins?.(view) ?? []) origins.push(new URL(o).origin);
  return [...new Set(origins)];
}

const refuse = (message: string) => new ConnectorError("invalid_input", message);

/** True when `s` has a control character (C0, DEL). */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** True when `s` has a control character (C0, DEL) or a space of any kind. */
function hasControlOrSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || /\s/.test(s[i] ?? "")) return true;
  }
  return false;
}

/** A path segment that is a dot segment once percent-decoded (`..`, `%2e%2E`, `.%2e`). */
function isDotSegment(segment: string): boolean {
  let s = segment;
  for (let i = 0; i < 3; i++) {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw refuse("path is not validly percent-encoded.");
    }
    if (d === "." || d === "..") return true;
    if (d.includes("/") && d.split("/").some((p) => p === "." || p === "..")) return true;
    if (d.includes("\\") || hasControl(d)) throw refuse("path may not carry backslashes or control characters, even encoded.");
    if (d === s) return false;
    s = d;
  }
  return false;
}

/**
 * The URL a proxied call goes to: `path` below the connection's API base (it carries any version:
 * `/v26.0/me/adaccounts`), or an absolute https URL whose origin is on the connection's allow list;
 * `query` is appended. Refused (`invalid_input`): other hosts, scheme-relative paths (`//host`),
 * userinfo, backslashes, fragments, control characters and dot segments, encoded or not.
 */
export function proxyTarget(provider: Provider, view: ConnectionView, path: string, query?: Record<string, QueryValue>): URL {
  const origins = proxyOrigins(provider, view);
  const name = provider.def.name;
  if (path.includes("\\") || hasControlOrSpace(path)) throw refuse("path may not contain backslashes, spaces or control characters.");
  if (path.includes("#")) throw refuse("path may not carry a fragment (#).");
  let target: URL;
  let rawPath: string;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
    if (!/^https?:\/\/[^/?]/i.test(path)) throw refuse("An absolute URL must be https://host/… on the connector's allow list.");
    let u: URL;
    try {
      u = new URL(path);
    } catch {
      throw refuse("path is neither a path starting with / nor a valid URL.");
    }
    if (u.username || u.password || /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(path))
      throw refuse("A URL with userinfo (user@host) is refused.");
    if (!origins.includes(u.origin))
      throw refuse(
        `${u.origin} is not on ${name}'s allow list for this connector (${origins.join(", ")}). Pass a path starting with / instead.`,
      );
    const afterScheme = path.slice(path.indexOf("//") + 2);
    const at = afterScheme.search(/[/?]/);
    rawPath = at < 0 ? "/" : afterScheme.slice(at);
    target = u;
  } else {
    if (!path.startsWith("/"))
      throw refuse("path must start with / (relative to the connector's API base) or be an https URL on its allow list.");
    if (path.startsWith("//")) throw refuse("A scheme-relative path (//host/…) is refused: pass a path below the API base.");
    rawPath = path;
    const base = apiBaseUrl(provider, view);
    const prefix = new URL(base).pathname.replace(/\/+$/, "");
    target = new URL(`${new URL(base).origin}${prefix}${path}`);
  }
  const pathOnly = rawPath.split("?")[0] ?? "";
  if (pathOnly.split("/").some(isDotSegment)) throw refuse("path may not contain . or .. segments (encoded or not).");
  if (!origins.includes(target.origin)) throw refuse(`path leads off ${name}'s allow list for this connector.`);
  for (const [k, v] of Object.entries(query ?? {})) {
    for (const item of Array.isArray(v) ? v : [v]) target.searchParams.append(k, String(item));
  }
  return target;
}

/**
 * The request headers of a proxied call: the caller's (only names the common list or the provider's
 * definition allows; `strict` refuses any other, else they are dropped), then the server's own
 * (credential, fixed and per-connection headers). A caller may choose its own value for an allowed
 * per-connection header (linkedin-version, login-customer-id); the credential it can never set.
 */
export function proxyRequestHeaders(
  provider: Provider,
  view: ConnectionView,
  credential: string,
  caller: Record<string, string>,
  opts: { strict: boolean },
): Record<string, string> {
  const allowed = new Set<string>([...COMMON_REQUEST_HEADERS, ...provider.def.api.request_headers]);
  const passed: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(caller)) {
    const name = rawName.toLowerCase();
    if (NEVER_PASSED.test(name) || !allowed.has(name)) {
      if (!opts.strict) continue;
      throw refuse(
        NEVER_PASSED.test(name)
          ? `The header ${name} is never passed on (the server adds the credential itself).`
          : `The header ${name} is not allowed for ${provider.def.name}; allowed: ${[...allowed].join(", ")}.`,
      );
    }
    if (value.includes("\r") || value.includes("\n") || value.includes(String.fromCharCode(0)))
      throw refuse(`The header ${name} has a line break or NUL in its value.`);
    passed[name] = value;
  }
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(providerHeaders(provider, view, credential))) own[k.toLowerCase()] = v;
  // The caller's choice wins for headers it may set; authorization is never among them.
  return { ...own, ...passed, authorization: own.authorization ?? "" };
}

/** The response headers a caller gets: content type, paging, caching, redirects, rate limits (lower-case names). */
export function keptResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (value === undefined || !(KEPT_RESPONSE.test(name) || RATE_LIMIT.test(name))) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** How a body of this content type is returned: parsed JSON, text, or bytes (base64 in call_connector). */
export function bodyKind(contentType: string | undefined): "json" | "text" | "binary" {
  const t = (contentType ?? "").toLowerCase().split(";")[0]?.trim() ?? "";
  if (t === "application/json" || t.endsWith("+json") || t === "text/json") return "json";
  if (
    t.startsWith("text/") ||
    t.endsWith("+xml") ||
    t === "application/xml" ||
    t === "application/x-www-form-urlencoded" ||
    t === "application/javascript" ||
    t === "application/graphql" ||
    t === "application/x-ndjson"
  )
    return "text";
  return t === "" ? "text" : "binary";
}

/** The path of a call as it is recorded: no query (its values may be personal data), at most 300 characters. */
export function recordedPath(target: URL): string {
  return target.pathname.slice(0, 300);
}
