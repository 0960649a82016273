// Raw requests to the server's OAuth authorization server (issue 17) for tests that check one
// rule at a time without a browser: dynamic registration, and /authorize URLs with PKCE S256.
import crypto from "node:crypto";
import { type RawResponse, rawRequest } from "./http.js";

/** A PKCE pair (RFC 7636): the verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = crypto.randomBytes(32).toString("base64url");
  return { verifier, challenge: crypto.createHash("sha256").update(verifier).digest("base64url") };
}

/** POST /register (RFC 7591) with a public client's metadata; `overrides` replace or add fields. */
export function registerClient(base: string, redirectUris: string[], overrides: Record<string, unknown> = {}): Promise<RawResponse> {
  return rawRequest(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "Registration Test Client",
      redirect_uris: redirectUris,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      ...overrides,
    }),
  });
}

/**
 * An authorization request URL for `{base}/authorize`: code flow, PKCE S256, scope `mcp`, the
 * resource `{base}/mcp`. A parameter set to undefined in `params` is left out.
 */
export function authorizeUrl(base: string, params: Record<string, string | undefined>): string {
  const all: Record<string, string | undefined> = {
    response_type: "code",
    scope: "mcp",
    state: crypto.randomBytes(8).toString("hex"),
    code_challenge: pkcePair().challenge,
    code_challenge_method: "S256",
    resource: `${base}/mcp`,
    ...params,
  };
  const url = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

/** Whether /authorize went on to our consent page: a redirect to `/consent/{uid}` on the server. */
export function reachedConsent(res: RawResponse, base: string): boolean {
  const location = res.headers.location;
  return (
    res.status >= 300 &&
    res.status < 400 &&
    typeof location === "string" &&
    /^\/consent\/[A-Za-z0-9_-]+$/.test(new URL(location, base).pathname) &&
    new URL(location, base).origin === new URL(base).origin
  );
}
