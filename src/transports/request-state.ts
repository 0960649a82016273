/**
 * MCP 2026-07-28 `requestState` for start_connector_oauth's returned URL elicitation: an
 * HMAC-signed token (the SDK's codec, keyed by the key every instance on the database shares)
 * carrying the grant the retry belongs to, bound to the workspace, valid for the grant's
 * 10 minutes at most, and answered once across all instances (its nonce is recorded in the
 * database). The token is signed, not encrypted: it holds nothing the client does not already
 * have (the connector id and the authorization URL it was just given).
 */
import crypto from "node:crypto";
import {
  createRequestStateCodec,
  type InputResponses,
  inputResponse,
  type RequestStateCodec,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { ConsentAnswer } from "../grants/consent.js";
import type { GrantDeps } from "../grants/deps.js";
import { useNonceOnce } from "../grants/request-state.js";
import { GRANT_TTL_MS } from "../store/grants.js";

/** The key of the URL elicitation in `inputRequests` / `inputResponses`. */
export const CONSENT_INPUT = "consent";

/** How long a token is good for: never longer than the grant it belongs to. */
export const REQUEST_STATE_TTL_S = GRANT_TTL_MS / 1000;

/** The signed payload. Short keys: it travels on every retry. */
export interface ConsentState {
  /** tool */
  t: string;
  /** workspace */
  w: string;
  /** connector */
  c: string;
  /** authorization URL */
  u: string;
  /** the link's expiry (ISO), as start_connector_oauth returned it */
  e: string;
  /** nonce: the token is answered once */
  n: string;
  /** when this token stops being accepted (ms since the epoch) */
  x: number;
}

const codecs = new WeakMap<Buffer, RequestStateCodec<ConsentState>>();

function codecFor(key: Buffer): RequestStateCodec<ConsentState> {
  let codec = codecs.get(key);
  if (!codec) {
    codec = createRequestStateCodec<ConsentState>({ key: new Uint8Array(key), ttlSeconds: REQUEST_STATE_TTL_S });
    codecs.set(key, codec);
  }
  return codec;
}

/** A token for the retry of `tool` that started `grant` in `workspaceId`. */
export function mintConsentState(
  ctx: GrantDeps,
  tool: string,
  workspaceId: string,
  grant: { connector_id: string; url: string; expires_at: string },
): Promise<string> {
  const x = Math.min(ctx.clock() + REQUEST_STATE_TTL_S * 1000, Date.parse(grant.expires_at));
  const payload: ConsentState = {
    t: tool,
    w: workspaceId,
    c: grant.connector_id,
    u: grant.url,
    e: grant.expires_at,
    n: crypto.randomBytes(16).toString("base64url"),
    x,
  };
  return codecFor(ctx.requestStateKey).mint(payload);
}

/**
 * The SDK's `requestState.verify` hook for one workspace: the signature and the codec's expiry,
 * then our own checks (same workspace, the grant's expiry) and the nonce's single use. Throwing
 * refuses the request with the SDK's fixed -32602 "Invalid or expired requestState"; the reason
 * goes to the server's onerror only.
 */
export function consentStateVerifier(
  ctx: GrantDeps,
  workspaceId: () => string,
): (state: string, sctx: ServerContext) => Promise<ConsentState> {
  return async (state, sctx) => {
    const p = await codecFor(ctx.requestStateKey).verify(state, sctx);
    if (p.w !== workspaceId()) throw new Error("workspace");
    if (!(p.x > ctx.clock())) throw new Error("expired");
    if (!(await useNonceOnce(ctx, p.n, p.x))) throw new Error("replayed");
    return p;
  };
}

/** The person's answer on a retry, or undefined when the retry carries none. */
export function consentAnswerOf(state: ConsentState, responses: Record<string, unknown> | undefined): ConsentAnswer | undefined {
  const view = inputResponse(responses as InputResponses | undefined, CONSENT_INPUT);
  if (view.kind !== "elicit") return undefined;
  return { connector_id: state.c, authorization_url: state.u, expires_at: state.e, action: view.action };
}
