/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP authorization
 * 2025-11-25 and 2026-07-28): a client's `client_id` is an https URL, and the JSON document there
 * describes it. This module fetches and validates that document, and nothing else (caching and the
 * oidc-provider adapter live with the authorization server).
 *
 * The fetch is an SSRF boundary: the URL comes from anyone on the internet, and the server fetches
 * it from inside the operator's network. So it connects only to public unicast addresses (an allow
 * list, checked at connect time on the very addresses the socket uses, so a DNS answer that changes
 * between a check and the connect cannot slip through), follows no redirect, sends no credentials,
 * and is bounded in time and size. Loopback is allowed only when the server itself runs on loopback.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, isIPv4, isIPv6 } from "node:net";
import { Agent, buildConnector, type Dispatcher, request } from "undici";
import { z } from "zod";
import { isLoopbackHost } from "../../../catalog/catalog.js";

export const CIMD_DEFAULT_TIMEOUT_MS = 5000;
export const CIMD_DEFAULT_MAX_BYTES = 16 * 1024;
/** The bounds of how long a fetched document may be reused, and the lifetime when the server names none. */
export const CIMD_MIN_MAX_AGE_S = 300;
export const CIMD_MAX_MAX_AGE_S = 86_400;
export const CIMD_DEFAULT_MAX_AGE_S = 3600;

const CLIENT_ID_MAX = 2048;
const URI_MAX = 2048;
const REDIRECT_URIS_MAX = 32;

/** Resolves a host name to every address it has (what `dns.lookup(host, { all: true })` answers). */
export type CimdLookup = (hostname: string) => Promise<LookupAddress[]>;

export interface CimdOptions {
  /** Loopback client_id URLs (http or https on 127.0.0.0/8, ::1, localhost) are accepted only when true (the server itself runs on loopback: development and tests). */
  allowLoopback: boolean;
  /** Total time for the fetch (DNS + connect + headers + body), default 5000 ms. */
  timeoutMs?: number;
  /** Largest document, default 16 KiB; a larger body is refused without reading it all. */
  maxBytes?: number;
  /** For tests: the DNS lookup to use (defaults to node:dns lookup with all:true). */
  lookup?: CimdLookup;
  /** For tests: the certificate authorities (PEM) to trust instead of the system's. */
  ca?: string | string[];
}

export interface ClientMetadata {
  client_id: string;
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: "none";
  scope?: string;
  software_id?: string;
  software_version?: string;
}

export type CimdErrorCode =
  /** The client_id is not a usable metadata URL (syntax, scheme, or plain http off loopback). */
  | "invalid_client_id"
  /** The host is, or resolves to, an address outside the allow list (private, link-local, loopback without allowLoopback, …). */
  | "address_not_allowed"
  /** DNS failure, connection refused or reset, TLS failure. */
  | "fetch_failed"
  /** The whole fetch took longer than `timeoutMs`. */
  | "timeout"
  /** The server answered with a redirect (never followed). */
  | "redirect_refused"
  /** The server answered with a status other than 200 (and not a redirect). */
  | "bad_status"
  /** The answer is not JSON by its content-type. */
  | "bad_content_type"
  /** The document is larger than `maxBytes`. */
  | "too_large"
  /** The document is not JSON, not an object, or its fields break the rules (client_id mismatch, secrets, grant types, …). */
  | "invalid_client_metadata"
  /** A redirect URI in the document is not acceptable (scheme, fragment, not absolute, none at all). */
  | "invalid_redirect_uri";

/**
 * Why a client's metadata could not be used. The message says what was wrong in our words; it never
 * carries the response body or any other text the document's server chose.
 */
export class CimdError extends Error {
  readonly code: CimdErrorCode;

  constructor(code: CimdErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "CimdError";
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses: the allow list

type V4Range = readonly [net: number, bits: number];
type V6Range = readonly [net: bigint, bits: number];

function v4ToInt(s: string): number | undefined {
  if (!isIPv4(s)) return undefined;
  return s.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** An IPv6 address as a 128-bit integer; undefined for anything else, including a zone id (`fe80::1%eth0`). */
function v6ToBigInt(s: string): bigint | undefined {
  if (!isIPv6(s) || s.includes("%")) return undefined;
  const groups = (part: string): number[] =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [Number.parseInt(g, 16)];
          const v4 = v4ToInt(g) ?? 0;
          return [Math.floor(v4 / 65536), v4 % 65536];
        });
  const [head = "", tail] = s.split("::");
  const hi = groups(head);
  const lo = tail === undefined ? [] : groups(tail);
  const words = [...hi, ...new Array<number>(8 - hi.length - lo.length).fill(0), ...lo];
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

const v4Range = (cidr: string): V4Range => {
  const [net = "", bits = ""] = cidr.split("/");
  return [v4ToInt(net) ?? Number.NaN, Number(bits)];
};
const v6Range = (cidr: string): V6Range => {
  const [net = "", bits = ""] = cidr.split("/");
  return [v6ToBigInt(net) ?? -1n, Number(bits)];
};
const inV4 = (ip: number, [net, bits]: V4Range) => Math.floor(ip / 2 ** (32 - bits)) === Math.floor(net / 2 ** (32 - bits));
const inV6 = (ip: bigint, [net, bits]: V6Range) => ip >> BigInt(128 - bits) === net >> BigInt(128 - bits);

const V4_LOOPBACK = v4Range("127.0.0.0/8");
/**
 * IPv4 space that is not public unicast (the IANA special-purpose registry, plus multicast and the
 * reserved block): everything else is globally routed unicast.
 */
const V4_NOT_PUBLIC = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8", // private
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local (cloud metadata services live here)
  "172.16.0.0/12", // private
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation
  "192.88.99.0/24", // 6to4 relay anycast (deprecated)
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24", // documentation
  "203.0.113.0/24", // documentation
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, and 255.255.255.255 broadcast
].map(v4Range);

const V6_LOOPBACK = v6Range("::1/128");
/** IPv4-mapped (`::ffff:a.b.c.d`): the socket reaches the IPv4 address, so that is what is checked. */
const V6_V4_MAPPED = v6Range("::ffff:0:0/96");
/** NAT64 well-known prefix (`64:ff9b::a.b.c.d`): the translator reaches the IPv4 address. */
const V6_NAT64 = v6Range("64:ff9b::/96");
/** The only IPv6 space that is allowed at all: global unicast. */
const V6_GLOBAL = v6Range("2000::/3");
/** Parts of global unicast that are not ordinary public hosts. */
const V6_GLOBAL_NOT_PUBLIC = [
  "2001::/23", // IETF protocol assignments, Teredo (2001::/32) among them
  "2001:db8::/32", // documentation
  "2002::/16", // 6to4: embeds an IPv4 address, which may be private
  "3fff::/20", // documentation
].map(v6Range);

function v4Allowed(ip: number, allowLoopback: boolean): boolean {
  if (allowLoopback && inV4(ip, V4_LOOPBACK)) return true;
  return !V4_NOT_PUBLIC.some((r) => inV4(ip, r));
}

/**
 * Whether the fetcher may connect to `address` (an IP literal, IPv6 without brackets): public
 * unicast only, plus loopback (127.0.0.0/8, ::1, ::ffff:127.x) when `allowLoopback`. Anything that
 * does not parse is refused.
 */
export function isAllowedAddress(address: string, opts: { allowLoopback: boolean }): boolean {
  const v4 = v4ToInt(address);
  if (v4 !== undefined) return v4Allowed(v4, opts.allowLoopback);
  const v6 = v6ToBigInt(address);
  if (v6 === undefined) return false;
  const embedded = Number(v6 & 0xffffffffn);
  if (inV6(v6, V6_V4_MAPPED)) return v4Allowed(embedded, opts.allowLoopback);
  // A NAT64 translator is another machine: its "127.0.0.1" is not our loopback.
  if (inV6(v6, V6_NAT64)) return v4Allowed(embedded, false);
  if (inV6(v6, V6_LOOPBACK)) return opts.allowLoopback;
  return inV6(v6, V6_GLOBAL) && !V6_GLOBAL_NOT_PUBLIC.some((r) => inV6(v6, r));
}

// ---------------------------------------------------------------------------------------------
// The client_id URL

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, "");

/** What is wrong with `id` as a client ID URL, or undefined when it is one. */
function clientIdProblem(id: string): string | undefined {
  if (id.length > CLIENT_ID_MAX) return `is longer than ${CLIENT_ID_MAX} characters`;
  let u: URL;
  try {
    u = new URL(id);
  } catch {
    return "is not an absolute URL";
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackHost(u.hostname))) {
    return "must be an https URL (plain http only for a loopback host)";
  }
  if (id.includes("#")) return "must not have a fragment";
  const authority = id.slice(id.indexOf("//") + 2).split(/[/?#\\]/, 1)[0] ?? "";
  if (authority.includes("@") || u.username || u.password) return "must not carry a user name or password";
  if (u.pathname === "/" || u.pathname === "") return "must have a path (not just /)";
  const rawPath = id.slice(id.indexOf("//") + 2 + authority.length).split(/[?#]/, 1)[0] ?? "";
  if (rawPath.split(/[/\\]/).some((seg) => [".", ".."].includes(seg.replace(/%2e/gi, ".")))) {
    return "must not have . or .. path segments";
  }
  if (u.href !== id) return "must be written in canonical form (lower-case scheme and host, no default port, characters escaped)";
  return undefined;
}

/**
 * Whether `id` is, by its syntax alone, a client ID metadata URL: https (or http on a loopback
 * host), a path other than `/`, no fragment, no user name or password, no `.` or `..` segments, in
 * canonical form (so the string compared with the document's `client_id` is the URL fetched).
 * Use it to tell a CIMD client_id from a registered one; the fetch applies the address rules.
 */
export function isClientIdUrl(id: string): boolean {
  return clientIdProblem(id) === undefined;
}

// ---------------------------------------------------------------------------------------------
// The document

// C0 and C1 controls, and the bidirectional overrides and isolates that can make a consent page
// show a name other than the one stored.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it looks for
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const text = (max: number) =>
  z
    .string()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !UNSAFE_CHARS.test(s), "must not contain control or bidirectional-override characters");

/** A page for people to open (client_uri, logo_uri): https, or http on a loopback host. */
const webUrl = z
  .string()
  .max(URI_MAX, `must be at most ${URI_MAX} characters`)
  .refine((s) => {
    if (!URL.canParse(s)) return false;
    const u = new URL(s);
    if (u.username || u.password) return false;
    return u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname));
  }, "must be an https URL without a user name or password");

/** What is wrong with a redirect URI (RFC 8252 for native clients), or undefined when it is fine. */
function redirectUriProblem(s: string): string | undefined {
  if (s.length > URI_MAX) return `is longer than ${URI_MAX} characters`;
  if (!URL.canParse(s)) return "is not an absolute URL";
  if (s.includes("#")) return "must not have a fragment";
  const u = new URL(s);
  if (u.username || u.password) return "must not carry a user name or password";
  if (u.protocol === "https:") return u.hostname ? undefined : "must name a host";
  if (u.protocol === "http:") return isLoopbackHost(u.hostname) ? undefined : "may use plain http only with a loopback host";
  // A private-use scheme is a reversed domain name the app owns (com.example.app:/cb): the dot rules
  // out javascript:, data:, file: and every other scheme a browser would act on itself.
  const scheme = u.protocol.slice(0, -1);
  if (/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme)) return undefined;
  return "must use https, http with a loopback host, or a private-use scheme named after a domain (com.example.app:/callback)";
}

const redirectUri = z.string().superRefine((s, ctx) => {
  const problem = redirectUriProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

// RFC 6749 section 3.3: space-separated scope tokens of printable ASCII without `"` and `\`.
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

const GRANT_TYPES = ["authorization_code", "refresh_token"] as const;

/** Unknown fields are dropped (RFC 7591 section 2: a server ignores metadata it does not understand). */
const ClientMetadataSchema = z.object({
  client_id: z.string(),
  client_name: text(200).optional(),
  client_uri: webUrl.optional(),
  logo_uri: webUrl.optional(),
  redirect_uris: z
    .array(redirectUri, "must be an array of URLs")
    .min(1, "must list at least one redirect URI")
    .max(REDIRECT_URIS_MAX, `must list at most ${REDIRECT_URIS_MAX} redirect URIs`),
  grant_types: z
    .array(z.enum(GRANT_TYPES, "must be authorization_code or refresh_token"), "must be an array")
    .max(8, "lists too many grant types")
    .refine((g) => g.includes("authorization_code"), "must include authorization_code")
    .transform((g) => [...new Set(g)])
    .default(["authorization_code"]),
  response_types: z
    .array(z.literal("code", 'must be "code"'), "must be an array")
    .min(1, 'must be ["code"]')
    .max(8, "lists too many response types")
    .transform(() => ["code"])
    .default(["code"]),
  token_endpoint_auth_method: z.literal("none", 'must be "none": a client identified by a metadata document has no secret').default("none"),
  scope: z.string().max(1000, "must be at most 1000 characters").regex(SCOPE, "must be space-separated scope tokens").optional(),
  software_id: text(200).optional(),
  software_version: text(100).optional(),
});

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return "is not valid";
  // The path holds our field names and array indexes only: unknown fields are never validated.
  const at = first.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  return `${at.replace(/^\./, "") || "document"} ${first.message.slice(0, 200)}${more}`;
}

/** Check a parsed document against the rules for `clientId`; the normalised metadata, or CimdError. */
function validateDocument(doc: unknown, clientId: string, where: string): ClientMetadata {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new CimdError("invalid_client_metadata", `The client metadata document at ${where} is not a JSON object.`);
  }
  for (const field of ["client_secret", "client_secret_expires_at"]) {
    if (Object.hasOwn(doc, field)) {
      throw new CimdError(
        "invalid_client_metadata",
        `The client metadata document at ${where} has ${field}: a client identified by a metadata document must not have a secret.`,
      );
    }
  }
  const parsed = ClientMetadataSchema.safeParse(doc);
  if (!parsed.success) {
    const onRedirects = parsed.error.issues[0]?.path[0] === "redirect_uris";
    throw new CimdError(
      onRedirects ? "invalid_redirect_uri" : "invalid_client_metadata",
      `The client metadata document at ${where} is not usable: ${describeIssues(parsed.error.issues)}.`,
    );
  }
  if (parsed.data.client_id !== clientId) {
    throw new CimdError(
      "invalid_client_metadata",
      `The client metadata document at ${where} names a different client_id than the URL it was fetched from; they must be equal.`,
    );
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Response headers

const single = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(", ") : v);

/**
 * How long a document may be reused, from its Cache-Control: `max-age` clamped to [300, 86400]
 * seconds, 300 for `no-store` or `no-cache` (we do not revalidate, so "check every time" becomes
 * "as briefly as we keep anything"), 3600 when the server says nothing.
 */
export function cacheMaxAge(cacheControl: string | string[] | undefined): number {
  const directives = (single(cacheControl) ?? "")
    .split(",")
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  if (directives.some((d) => d === "no-store" || d === "no-cache")) return CIMD_MIN_MAX_AGE_S;
  const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d+)"?$/.exec(d)).find(Boolean);
  if (!maxAge) return CIMD_DEFAULT_MAX_AGE_S;
  return Math.min(CIMD_MAX_MAX_AGE_S, Math.max(CIMD_MIN_MAX_AGE_S, Number(maxAge[1])));
}

/** `application/json` or any `application/*+json`, with a charset (if named) of UTF-8. */
function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const [type = "", ...params] = value.split(";").map((p) => p.trim().toLowerCase());
  if (type !== "application/json" && !/^application\/[a-z0-9!#$&^_.+-]+\+json$/.test(type)) return false;
  const charset = params
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replace(/"/g, "");
  return charset === undefined || charset === "utf-8" || charset === "utf8";
}

// ---------------------------------------------------------------------------------------------
// The fetch

const defaultLookup: CimdLookup = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

type NetLookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

/** Raised inside the connector when an address is outside the allow list; becomes `address_not_allowed`. */
class AddressRefused extends Error {
  constructor() {
    super("address outside the allow list");
    this.name = "AddressRefused";
  }
}

/**
 * An undici Agent whose every connection goes through the allow list: IP-literal hosts are checked
 * before the connector is called, and host names are resolved by a lookup that answers only when
 * every address it found is allowed. The socket can only use addresses that lookup returned, so the
 * addresses checked are the addresses connected to.
 */
function guardedAgent(opts: CimdOptions, timeoutMs: number, onRefused: () => void): Dispatcher {
  const resolve = opts.lookup ?? defaultLookup;
  const allow = { allowLoopback: opts.allowLoopback };
  const lookup = (hostname: string, options: { family?: number | string; all?: boolean }, callback: NetLookupCallback) => {
    // Through a promise, so that a lookup that throws (rather than rejects) still ends up in the callback.
    Promise.resolve(hostname)
      .then(resolve)
      .then(
        (found) => {
          // All or nothing: a name that also resolves to a private address is not a public host.
          if (!found.every((a) => isAllowedAddress(a.address, allow))) {
            onRefused();
            callback(new AddressRefused(), "");
            return;
          }
          const family = options.family === 4 || options.family === "IPv4" ? 4 : options.family === 6 || options.family === "IPv6" ? 6 : 0;
          const addresses = found.filter((a) => family === 0 || a.family === family);
          if (addresses.length === 0) {
            callback(Object.assign(new Error("no address"), { code: "ENOTFOUND" }), "");
            return;
          }
          if (options.all) callback(null, addresses);
          else callback(null, addresses[0]?.address ?? "", addresses[0]?.family);
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error("lookup failed"), ""),
      );
  };
  const inner = buildConnector({ lookup, timeout: timeoutMs, maxCachedSessions: 0, ...(opts.ca ? { ca: opts.ca } : {}) });
  const connect: buildConnector.connector = (connectOpts, callback) => {
    const host = bare(connectOpts.hostname);
    if (isIP(host) && !isAllowedAddress(host, allow)) {
      onRefused();
      callback(new AddressRefused(), null);
      return;
    }
    inner(connectOpts, callback);
  };
  return new Agent({ connect, connections: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, maxHeaderSize: 16 * 1024 });
}

function refusedAddress(where: string): CimdError {
  return new CimdError(
    "address_not_allowed",
    `The client metadata host ${where} is not a public internet address; a client_id URL must point to a public https server.`,
  );
}

/**
 * Fetch and validate the Client ID Metadata Document at `clientId`: the normalised metadata
 * (defaults filled in, unknown fields dropped) and how many seconds it may be reused. Throws only
 * CimdError.
 */
export async function fetchClientMetadata(
  clientId: string,
  opts: CimdOptions,
): Promise<{ metadata: ClientMetadata; maxAgeSeconds: number }> {
  try {
    return await fetchAndValidate(clientId, opts);
  } catch (err) {
    // Only a bug gets here (fetchAndValidate maps every failure it knows): still no other error type escapes.
    if (err instanceof CimdError) throw err;
    throw new CimdError("fetch_failed", "The client metadata document could not be fetched.", { cause: err });
  }
}

/** undici's own deadlines; they are set to the total timeout, so they mean the same thing. */
const UNDICI_TIMEOUTS = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

async function fetchAndValidate(clientId: string, opts: CimdOptions): Promise<{ metadata: ClientMetadata; maxAgeSeconds: number }> {
  // The address rules first, so an address literal is refused as one even when it is not written canonically.
  const early = URL.canParse(clientId) ? new URL(clientId) : undefined;
  if (early && (early.protocol === "https:" || early.protocol === "http:")) {
    const host = bare(early.hostname);
    if (isLoopbackHost(host) && !opts.allowLoopback) throw refusedAddress(early.host);
    if (isIP(host) && !isAllowedAddress(host, { allowLoopback: opts.allowLoopback })) throw refusedAddress(early.host);
  }
  // Plain http passes only with a loopback host, which the lines above let through only with allowLoopback.
  const problem = clientIdProblem(clientId);
  if (problem) throw new CimdError("invalid_client_id", `The client_id is not a usable metadata URL: it ${problem}.`);
  const url = new URL(clientId);
  const where = url.host;

  const timeoutMs = opts.timeoutMs ?? CIMD_DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? CIMD_DEFAULT_MAX_BYTES;
  let refused = false;
  let timedOut = false;
  const agent = guardedAgent(opts, timeoutMs, () => {
    refused = true;
  });
  const abort = new AbortController();
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  const failure = (err: unknown): CimdError => {
    if (err instanceof CimdError) return err;
    if (refused) return refusedAddress(where);
    const code = (err as { code?: unknown } | null)?.code;
    if (timedOut || (typeof code === "string" && UNDICI_TIMEOUTS.has(code))) {
      return new CimdError("timeout", `The client metadata document at ${where} did not arrive within ${timeoutMs} ms.`);
    }
    // A system or undici error code (ECONNREFUSED, CERT_HAS_EXPIRED, …) is ours to show; nothing else is.
    const detail = typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : "";
    return new CimdError("fetch_failed", `The client metadata document at ${where} could not be fetched${detail}.`, { cause: err });
  };

  try {
    const res = await request(url, {
      dispatcher: agent,
      method: "GET",
      headers: { accept: "application/json" },
      signal: abort.signal,
    });
    // Destroying an unfinished body (a refusal, the deadline) reports an abort: expected, not a crash.
    res.body.on("error", () => undefined);
    try {
      if (res.statusCode >= 300 && res.statusCode < 400) {
        throw new CimdError(
          "redirect_refused",
          `The client metadata document at ${where} answered with a redirect; redirects are not followed.`,
        );
      }
      if (res.statusCode !== 200) {
        throw new CimdError("bad_status", `The client metadata document at ${where} answered HTTP ${res.statusCode} instead of 200.`);
      }
      if (!isJsonContentType(single(res.headers["content-type"]))) {
        throw new CimdError("bad_content_type", `The client metadata document at ${where} is not served as application/json.`);
      }
      const tooLarge = () => new CimdError("too_large", `The client metadata document at ${where} is larger than ${maxBytes} bytes.`);
      const declared = Number(single(res.headers["content-length"]) ?? Number.NaN);
      if (declared > maxBytes) throw tooLarge();
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        total += chunk.byteLength;
        if (total > maxBytes) throw tooLarge();
        chunks.push(chunk);
      }
      let doc: unknown;
      try {
        doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks, total)));
      } catch {
        throw new CimdError("invalid_client_metadata", `The client metadata document at ${where} is not valid UTF-8 JSON.`);
      }
      return { metadata: validateDocument(doc, clientId, where), maxAgeSeconds: cacheMaxAge(res.headers["cache-control"]) };
    } finally {
      // Whatever is left unread is dropped with the connection, not read.
      res.body.destroy();
    }
  } catch (err) {
    throw failure(err);
  } finally {
    clearTimeout(timer);
    await agent.destroy().catch(() => undefined);
  }
}
