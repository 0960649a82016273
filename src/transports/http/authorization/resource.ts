/**
 * The protected resource's side of remote sign-in: the two metadata documents (RFC 9728 for the
 * resource, RFC 8414 for the authorization server), the `WWW-Authenticate` challenge a 401 carries,
 * and the check of an access token on /mcp, /sse and /api/v1. The check reads our database only
 * (one indexed read): it does not load the OAuth library.
 */
import type http from "node:http";
import { sha256Hex } from "../../../common/ids.js";
import type { Vault } from "../../../credentials/vault.js";
import type { DB } from "../../../store/db.js";
import { liveAccessRecord } from "../../../store/oauth-server.js";
import { AUTHORIZE_PATH, JWKS_PATH, MCP_SCOPE, REGISTER_PATH, REVOKE_PATH, TOKEN_PATH } from "./provider.js";

export const PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource";
export const AUTHORIZATION_SERVER_PATH = "/.well-known/oauth-authorization-server";
export const OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration";

/** The metadata paths, including the path-suffixed forms RFC 9728 and RFC 8414 build (`…/oauth-protected-resource/mcp`). */
export function metadataKind(path: string): "resource" | "server" | undefined {
  if (path === PROTECTED_RESOURCE_PATH || path.startsWith(`${PROTECTED_RESOURCE_PATH}/`)) return "resource";
  if (path === AUTHORIZATION_SERVER_PATH || path.startsWith(`${AUTHORIZATION_SERVER_PATH}/`)) return "server";
  if (path === OPENID_CONFIGURATION_PATH || path.startsWith(`${OPENID_CONFIGURATION_PATH}/`)) return "server";
  return undefined;
}

/** RFC 9728 protected resource metadata for `{base}/mcp`. */
export function protectedResourceMetadata(issuer: string): Record<string, unknown> {
  return {
    resource: `${issuer}/mcp`,
    authorization_servers: [issuer],
    scopes_supported: [MCP_SCOPE],
    bearer_methods_supported: ["header"],
    resource_name: "tenex-connectors",
  };
}

/** RFC 8414 authorization server metadata (also served as OpenID discovery, which some clients try first). */
export function authorizationServerMetadata(issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}${AUTHORIZE_PATH}`,
    token_endpoint: `${issuer}${TOKEN_PATH}`,
    registration_endpoint: `${issuer}${REGISTER_PATH}`,
    revocation_endpoint: `${issuer}${REVOKE_PATH}`,
    jwks_uri: `${issuer}${JWKS_PATH}`,
    scopes_supported: [MCP_SCOPE],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
    revocation_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
    code_challenge_methods_supported: ["S256"],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["ES256"],
  };
}

/** Serve a metadata document: public, cacheable for a minute, readable by browser-based clients. */
export function sendMetadata(req: http.IncomingMessage, res: http.ServerResponse, doc: Record<string, unknown>): void {
  const body = JSON.stringify(doc);
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, OPTIONS",
    "access-control-allow-headers": "mcp-protocol-version",
  };
  if (req.method === "OPTIONS") {
    res.writeHead(204, { ...cors, "access-control-max-age": "600" });
    res.end();
    return;
  }
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "public, max-age=60",
    "content-length": Buffer.byteLength(body),
    ...cors,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** `WWW-Authenticate` for a 401 from /mcp, /sse or /api/v1: where the client learns how to sign in. */
export function bearerChallenge(issuer: string, error?: "invalid_token" | "invalid_request"): string {
  const parts = [`Bearer resource_metadata="${issuer}${PROTECTED_RESOURCE_PATH}/mcp"`, `scope="${MCP_SCOPE}"`];
  if (error) parts.push(`error="${error}"`);
  return parts.join(", ");
}

/** Who an access token acts for. */
export interface TokenHolder {
  workspace_id: string;
  member_id: string;
  grant_id: string;
  client_id: string;
}

/**
 * The holder of a live access token for `resource`, or undefined: unknown, expired, for another
 * resource, without the `mcp` scope, its grant ended or its member removed.
 */
export async function verifyAccessToken(
  deps: { db: DB; vault: Vault; clock: () => number },
  resource: string,
  token: string,
): Promise<TokenHolder | undefined> {
  if (token.length < 20 || token.length > 256) return undefined;
  const keyHash = sha256Hex(`AccessToken:${token}`);
  const now = deps.clock();
  const row = await liveAccessRecord(deps.db, keyHash, now);
  if (!row) return undefined;
  let payload: { aud?: unknown; scope?: unknown; exp?: unknown; jti?: unknown };
  try {
    payload = JSON.parse(deps.vault.open(row.payload, `oauth_server_records:${keyHash}`));
  } catch {
    return undefined;
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!audiences.includes(resource)) return undefined;
  if (typeof payload.scope !== "string" || !payload.scope.split(" ").includes(MCP_SCOPE)) return undefined;
  if (typeof payload.exp === "number" && payload.exp * 1000 <= now) return undefined;
  return { workspace_id: row.workspace_id, member_id: row.member_id, grant_id: row.grant_id, client_id: row.client_id };
}
