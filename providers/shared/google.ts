/**
 * Google's OAuth endpoints and rules, shared by every Google provider (Gmail, Google Ads).
 * `access_type=offline` asks for a refresh token; Google issues one only when the person sees
 * the consent screen, hence `prompt=consent` (without it a re-consent returns none).
 */
import type { ProviderInput } from "../../src/catalog/catalog.js";

export function googleOAuth(scopes: string[], allowedExtra: string[] = []): NonNullable<ProviderInput["oauth"]> {
  return {
    authorization_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    revocation_url: "https://oauth2.googleapis.com/revoke",
    issuer: "https://accounts.google.com",
    scopes,
    allowed_extra_scopes: allowedExtra,
    authorization_params: { access_type: "offline", prompt: "consent" },
    pkce: true,
    token_auth: "client_secret_post",
    refresh: "refresh_token",
  };
}
