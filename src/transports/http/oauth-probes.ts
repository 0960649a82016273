/**
 * The OAuth paths an MCP client probes after a 401 (RFC 9728 protected-resource metadata,
 * RFC 8414 / OpenID discovery, dynamic client registration, /authorize, /token). This server
 * does not offer OAuth sign-in yet: it takes a workspace API key. Each path answers 404 (what
 * the RFCs say for "no metadata here", so clients stop probing) with a body that says what the
 * server takes instead; clients that give up show that body to the person.
 */
import type http from "node:http";
import { MCP_PATH } from "./mcp.js";
import { sendError } from "./respond.js";

export const OAUTH_PROBE_PATHS = [
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-authorization-server",
  "/.well-known/openid-configuration",
  "/register",
  "/authorize",
  "/token",
];

/** True for a probe path, including the path-suffixed forms (`/.well-known/oauth-protected-resource/mcp`). */
export function isOAuthProbe(path: string): boolean {
  return OAUTH_PROBE_PATHS.some((p) => path === p || (p.startsWith("/.well-known/") && path.startsWith(`${p}/`)));
}

export const KEY_INSTEAD_OF_OAUTH =
  "This server does not offer OAuth sign-in: it takes a workspace API key. " +
  `Send \`Authorization: Bearer tnx_…\` with every request to ${MCP_PATH} (in an MCP client, put it in the server's headers; ` +
  "turn off the client's OAuth for this server). An operator creates a key with `tenex-connectors keys create --workspace NAME`.";

/** 404 with the key instructions; not cached, so a later version with real OAuth is seen at once. */
export function answerOAuthProbe(res: http.ServerResponse): void {
  sendError(res, "not_found", KEY_INSTEAD_OF_OAUTH);
}
