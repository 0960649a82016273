/**
 * The authenticated proxy: a caller names a connector (or a role) and a request; the server adds the
 * credential, sends it to an allowed host, and hands back the provider's answer with our secrets
 * redacted. `callConnector` reads a bounded body for call_connector; `openProxyStream` streams it for
 * the raw REST proxy. Both refresh a token about to expire first, and after a 401 refresh once and
 * retry once; 429 and 5xx come back as they are (no silent retry).
 */
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { readUpTo } from "../catalog/bounded-body.js";
import type { Provider } from "../catalog/catalog.js";
import { connectionView } from "../catalog/connection.js";
import { networkFailure } from "../catalog/provider-errors.js";
import {
  bodyKind,
  keptResponseHeaders,
  type ProxyMethod,
  proxyRequestHeaders,
  proxyTarget,
  type QueryValue,
  recordedPath,
} from "../catalog/proxy-rules.js";
import { REDACTED, RedactingStream, redactBytes, redactText, secretSet } from "../catalog/redact.js";
import { ConnectorError, isConnectorError } from "../common/errors.js";
import { getAccessToken } from "../credentials/refresh.js";
import type { Credential } from "../credentials/tokens.js";
import { getConnectorRow } from "../store/connectors.js";
import type { ConnectorRow } from "../store/schema.js";
import { assertUsable } from "../store/status.js";
import { resolveConnector } from "./primaries.js";
import type { ProxyDeps } from "./proxy-engine.js";

/** A request body larger than this is refused before anything is sent. */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_BYTES = 256 * 1024;
export const MAX_MAX_BYTES = 1024 * 1024;

/** Which connector: by id, or the one resolve_connector picks for a role (and provider). */
export interface ProxyTarget {
  connector_id?: string | undefined;
  role?: string | undefined;
  provider?: string | undefined;
}

export interface ProxyRequest {
  method: ProxyMethod;
  path: string;
  query?: Record<string, QueryValue> | undefined;
  headers?: Record<string, string> | undefined;
  /** A JSON value, or a string sent as it is (with the caller's content-type). */
  body?: unknown;
  max_bytes?: number | undefined;
}

export interface ProxyResult {
  connector_id: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  truncated: boolean;
  refreshed: boolean;
  duration_ms: number;
  encoding?: "base64";
}

/** The connector a call names: another workspace's is `not_found`; only a connected one may be called (`invalid_state`). */
async function connectorFor(ctx: ProxyDeps, workspaceId: string, target: ProxyTarget): Promise<ConnectorRow> {
  let row: ConnectorRow;
  if (target.connector_id !== undefined) {
    // An id of another workspace is not_found before anything else is said about the call.
    row = await getConnectorRow(ctx.db, workspaceId, target.connector_id);
    if (target.role !== undefined || target.provider !== undefined)
      throw new ConnectorError("invalid_input", "Give connector_id, or role (and provider), not both.");
  } else {
    if (target.role === undefined)
      throw new ConnectorError(
        "invalid_input",
        "Name the connector: connector_id, or role (and provider) to use the one resolve_connector picks.",
      );
    const id = (await resolveConnector(ctx, workspaceId, target.role, target.provider)).id;
    row = await getConnectorRow(ctx.db, workspaceId, id);
  }
  assertUsable(row, "call");
  return row;
}

/** The request body as bytes, with the content-type it implies; refusals say what to change. */
function encodeBody(method: ProxyMethod, body: unknown, headers: Record<string, string>): Buffer | undefined {
  if (body === undefined) return undefined;
  if (method === "GET") throw new ConnectorError("invalid_input", "A GET call takes no body; send its parameters in query.");
  const contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === "content-type")?.[1];
  let bytes: Buffer;
  if (typeof body === "string") {
    if (!contentType)
      throw new ConnectorError("invalid_input", "A string body needs a content-type header (or pass a JSON value as body to send JSON).");
    bytes = Buffer.from(body);
  } else {
    bytes = Buffer.from(JSON.stringify(body));
    if (!contentType) headers["content-type"] = "application/json";
  }
  if (bytes.length > MAX_REQUEST_BODY_BYTES) throw new ConnectorError("invalid_input", "The request body is larger than 1 MiB.");
  return bytes;
}

/** The secrets of this connection a provider must never get to echo back to a caller. */
function secretsOf(provider: Provider, creds: Credential[]): Buffer[] {
  return secretSet([
    ...creds.flatMap((c) => [c.token, c.tokens?.access_token, c.tokens?.refresh_token]),
    provider.oauth?.client_secret,
    provider.env.DEVELOPER_TOKEN,
  ]);
}

/** A truncated body may end inside a secret: a trailing prefix of one (4 bytes or more) is redacted too. */
function redactCutSecret(bytes: Buffer, secrets: readonly Buffer[]): Buffer {
  for (const s of secrets) {
    for (let k = Math.min(s.length - 1, bytes.length); k >= 4; k--) {
      if (bytes.subarray(bytes.length - k).equals(s.subarray(0, k)))
        return Buffer.concat([bytes.subarray(0, bytes.length - k), Buffer.from(REDACTED)]);
    }
  }
  return bytes;
}

type Answer = Dispatcher.ResponseData;

interface Sent {
  answer: Answer;
  credential: Credential;
  used: Credential[];
  refreshed: boolean;
  target: URL;
  /** True once the call's 30 s are up (call_connector; never for the raw proxy). */
  timedOut: () => boolean;
}

/**
 * Send the call with the connector's credential (refreshed first when due); after a 401 from an OAuth
 * connector, refresh once and send once more. Network failures and the timeout are `provider_error`.
 */
async function send(
  ctx: ProxyDeps,
  row: ConnectorRow,
  provider: Provider,
  req: ProxyRequest,
  opts: { strictHeaders: boolean; signal?: AbortSignal | undefined; body?: Buffer | undefined; stream?: boolean },
): Promise<Sent> {
  const callerHeaders = { ...(req.headers ?? {}) };
  const body = opts.body ?? encodeBody(req.method, req.body, callerHeaders);
  // Headers are checked before any token work: a refused call refreshes nothing.
  proxyRequestHeaders(provider, connectionView(provider, row), "", callerHeaders, { strict: opts.strictHeaders });
  let credential = await getAccessToken(ctx, row, { probe: false });
  let refreshed = credential.refreshed;
  const used = [credential];
  const target = proxyTarget(provider, credential.view, req.path, req.query);
  // call_connector: 30 s for the whole call, body included. The raw proxy streams for as long as bytes keep
  // coming: the Agent's headers and body timeouts (30 s each, idle) bound it instead.
  const deadline = opts.stream ? undefined : AbortSignal.timeout(ctx.proxy.timeoutMs);
  const signals = [opts.signal, deadline].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length ? AbortSignal.any(signals) : undefined;
  const once = async (cred: Credential): Promise<Answer> => {
    const headers = proxyRequestHeaders(provider, cred.view, cred.token, callerHeaders, { strict: opts.strictHeaders });
    try {
      const { request, dispatcher } = await ctx.proxy.http();
      return await request(target, {
        dispatcher,
        method: req.method,
        headers,
        ...(body ? { body } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const timedOut = Boolean(deadline?.aborted) || code === "UND_ERR_HEADERS_TIMEOUT";
      throw new ConnectorError(
        "provider_error",
        timedOut
          ? `${provider.def.name} did not answer within ${ctx.proxy.timeoutMs / 1000} s; nothing is known about whether it acted. Check before retrying a write.`
          : `${provider.def.name} could not be reached (${networkFailure(err)}). Try again shortly.`,
        { retryable: true, cause: err },
      );
    }
  };
  let answer = await once(credential);
  if (answer.statusCode === 401 && credential.auth_type === "oauth2") {
    // A 401 means the provider did not act: refresh once (or take the token another call just got) and retry once, whatever the method.
    await answer.body.dump().catch(() => undefined);
    credential = await getAccessToken(ctx, row, { staleVersion: credential.version, probe: false });
    used.push(credential);
    refreshed = true;
    answer = await once(credential);
  }
  return { answer, credential, used, refreshed, target, timedOut: () => Boolean(deadline?.aborted) };
}

const rounded = (ms: number) => Math.round(ms * 10) / 10;

/**
 * call_connector: one call through a connector, the answer read within `max_bytes` (default 256 KiB,
 * at most 1 MiB): JSON parsed, text as text, anything else base64 (`encoding: "base64"`).
 */
export async function callConnector(
  ctx: ProxyDeps,
  workspaceId: string,
  target: ProxyTarget,
  req: ProxyRequest,
  signal?: AbortSignal,
): Promise<ProxyResult> {
  const row = await connectorFor(ctx, workspaceId, target);
  const provider = ctx.catalog.get(row.provider);
  const maxBytes = req.max_bytes ?? DEFAULT_MAX_BYTES;
  const release = await ctx.proxy.slots.acquire(row.id, signal);
  const started = performance.now();
  const at = new Date(ctx.clock()).toISOString();
  let status: number | null = null;
  let refreshed = false;
  let path: string | null = null;
  try {
    const sent = await send(ctx, row, provider, req, { strictHeaders: true, signal });
    refreshed = sent.refreshed;
    path = recordedPath(sent.target);
    const { answer } = sent;
    status = answer.statusCode;
    const secrets = secretsOf(provider, sent.used);
    let read: { bytes: Buffer; truncated: boolean };
    try {
      read = await readUpTo(answer.body, maxBytes, () => answer.body.destroy());
    } catch (err) {
      const why = sent.timedOut() ? `did not finish within ${ctx.proxy.timeoutMs / 1000} s` : `broke off (${networkFailure(err)})`;
      throw new ConnectorError("provider_error", `${provider.def.name}'s answer ${why}; the request itself was sent.`, {
        retryable: true,
        cause: err,
      });
    }
    let bytes = redactBytes(read.bytes, secrets);
    if (read.truncated) bytes = redactCutSecret(bytes, secrets);
    const headers = keptResponseHeaders(answer.headers);
    for (const [k, v] of Object.entries(headers)) headers[k] = redactText(v, secrets);
    return {
      connector_id: row.id,
      status: answer.statusCode,
      headers,
      ...decodeBody(bytes, headers["content-type"], read.truncated),
      truncated: read.truncated,
      refreshed,
      duration_ms: rounded(performance.now() - started),
    };
  } catch (err) {
    if (isConnectorError(err) && err.code === "provider_error" && path === null) path = safePath(provider, req.path);
    throw err;
  } finally {
    release();
    if (path !== null) ctx.proxy.recorder.record(callRecord(row, req.method, path, status, performance.now() - started, refreshed, at));
  }
}

/** The path of a call that failed before its URL was kept: only a plain relative path is recorded. */
function safePath(_provider: Provider, path: string): string | null {
  return path.startsWith("/") && !path.startsWith("//") ? (path.split("?")[0] ?? "").slice(0, 300) : null;
}

function callRecord(row: ConnectorRow, method: string, path: string, status: number | null, ms: number, refreshed: boolean, at: string) {
  return { connector_id: row.id, workspace_id: row.workspace_id, method, path, status, duration_ms: ms, refreshed, at };
}

function decodeBody(bytes: Buffer, contentType: string | undefined, truncated: boolean): { body: unknown; encoding?: "base64" } {
  if (bytes.length === 0) return { body: null };
  const kind = bodyKind(contentType);
  if (kind === "binary") return { body: bytes.toString("base64"), encoding: "base64" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: !truncated }).decode(bytes);
  } catch {
    return { body: bytes.toString("base64"), encoding: "base64" };
  }
  if (kind === "json" && !truncated) {
    try {
      return { body: JSON.parse(text) };
    } catch {
      return { body: text };
    }
  }
  return { body: text };
}

/** The raw REST proxy's request: the method, the path with its query as the caller wrote it, headers and body bytes. */
export interface RawProxyRequest {
  method: string;
  /** Below the API base, with the query string as it came. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
}

export interface ProxyStream {
  status: number;
  headers: Record<string, string>;
  /** The provider's body: redacted through a rolling window when it is text or JSON, unchanged when binary. */
  body: Readable;
  /** Call when the stream ended or broke: frees the connector's slot and records the call. */
  finish(): void;
}

/**
 * The raw proxy (`ANY /api/v1/connectors/{id}/proxy/{path}`): the same rules as call_connector, the
 * provider's body streamed as it comes (never buffered whole). Headers the allow lists do not name are
 * dropped rather than refused (HTTP clients send their own: host, user-agent, …).
 */
export async function openProxyStream(
  ctx: ProxyDeps,
  workspaceId: string,
  connectorId: string,
  raw: RawProxyRequest,
  signal?: AbortSignal,
): Promise<ProxyStream> {
  const method = raw.method.toUpperCase();
  if (!(["GET", "POST", "PUT", "PATCH", "DELETE"] as const).includes(method as ProxyMethod))
    throw new ConnectorError("invalid_input", `The proxy passes GET, POST, PUT, PATCH and DELETE, not ${method.slice(0, 10)}.`);
  const row = await connectorFor(ctx, workspaceId, { connector_id: connectorId });
  const provider = ctx.catalog.get(row.provider);
  if (raw.body && raw.body.length > MAX_REQUEST_BODY_BYTES)
    throw new ConnectorError("invalid_input", "The request body is larger than 1 MiB.");
  const release = await ctx.proxy.slots.acquire(row.id, signal);
  const started = performance.now();
  const at = new Date(ctx.clock()).toISOString();
  const req: ProxyRequest = { method: method as ProxyMethod, path: raw.path, headers: raw.headers };
  let sent: Sent;
  try {
    sent = await send(ctx, row, provider, req, {
      strictHeaders: false,
      signal,
      body: raw.body?.length ? raw.body : undefined,
      stream: true,
    });
  } catch (err) {
    release();
    const path = safePath(provider, raw.path);
    if (isConnectorError(err) && err.code === "provider_error" && path !== null)
      ctx.proxy.recorder.record(callRecord(row, method, path, null, performance.now() - started, false, at));
    throw err;
  }
  const secrets = secretsOf(provider, sent.used);
  const headers = keptResponseHeaders(sent.answer.headers);
  for (const [k, v] of Object.entries(headers)) headers[k] = redactText(v, secrets);
  // Text and JSON pass through the rolling redaction window; binary bodies pass unchanged (documented).
  const redactor = bodyKind(headers["content-type"]) === "binary" || secrets.length === 0 ? null : new RedactingStream(secrets);
  const body: Readable = redactor ? sent.answer.body.pipe(redactor) : sent.answer.body;
  if (redactor) sent.answer.body.once("error", (err) => redactor.destroy(err));
  let finished = false;
  return {
    status: sent.answer.statusCode,
    headers,
    body,
    finish: () => {
      if (finished) return;
      finished = true;
      release();
      if (!sent.answer.body.destroyed) sent.answer.body.destroy();
      if (redactor) ctx.proxy.stats.maxStreamHeldBytes = Math.max(ctx.proxy.stats.maxStreamHeldBytes, redactor.maxHeld);
      ctx.proxy.recorder.record(
        callRecord(row, method, recordedPath(sent.target), sent.answer.statusCode, performance.now() - started, sent.refreshed, at),
      );
    },
  };
}
