/**
 * openid-client refuses a token response without `token_type` (RFC 6749 requires it). LinkedIn sends none, and
 * Webflow's may lack it (unconfirmed, cheap to guard): add `bearer` when it is missing, keep it when present.
 */
export function bearerTokenType(body: Record<string, unknown>): Record<string, unknown> {
  return typeof body.token_type === "string" && body.token_type !== "" ? body : { ...body, token_type: "bearer" };
}
