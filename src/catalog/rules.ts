import { ConnectorError } from "../common/errors.js";
import { type Json, type Provider, ROLES, type Role } from "./catalog.js";

/** Roles must be known and allowed for the provider. */
export function checkRoles(provider: Provider, roles: readonly string[]): Role[] {
  const out: Role[] = [];
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r)) {
      throw new ConnectorError("invalid_input", `Unknown role "${r}". Roles are: ${ROLES.join(", ")}.`);
    }
    if (!(provider.def.roles as string[]).includes(r)) {
      throw new ConnectorError(
        "role_not_allowed",
        `${provider.def.name} cannot play the role "${r}"; it can be: ${provider.def.roles.join(", ")}.`,
      );
    }
    if (!out.includes(r as Role)) out.push(r as Role);
  }
  return out;
}

/** Settings checked against the provider's schema; unknown fields are refused. Settings schemas hold JSON values only. */
export function parseSettings(provider: Provider, settings: Record<string, unknown>): Record<string, Json> {
  const result = provider.def.settings.safeParse(settings);
  if (!result.success) {
    const issues = result.error.issues
      .map((i) => {
        const where = i.path.join(".") || "settings";
        return i.code === "unrecognized_keys" ? `unknown field(s) ${i.keys.join(", ")}` : `${where}: ${i.message}`;
      })
      .join("; ");
    const known = Object.keys(provider.def.settings.shape).join(", ");
    throw new ConnectorError(
      "invalid_input",
      `Invalid settings for ${provider.def.name}: ${issues}. Known settings: ${known || "(none)"}.`,
    );
  }
  return result.data as Record<string, Json>;
}

/** The scopes an agent may ask for: the provider's own (always asked) and its allowed extras. */
export function allowedScopes(provider: Provider): string[] {
  const oauth = provider.def.oauth;
  return oauth ? [...new Set([...oauth.scopes, ...oauth.allowed_extra_scopes])] : [];
}

/**
 * The scopes a grant asks for: the provider's own (what it needs to work, always kept), the extras the agent
 * asked for (each one allowed by the definition, or invalid_input naming the allowed ones), and those the
 * connection's endpoints add (Outlook with a tenant: openid).
 */
export function grantScopesFor(provider: Provider, asked: readonly string[] | undefined, added: readonly string[]): string[] {
  const allowed = allowedScopes(provider);
  const refused = (asked ?? []).filter((s) => !allowed.includes(s));
  if (refused.length > 0) {
    const named = refused.slice(0, 3).map((s) => JSON.stringify(s.slice(0, 100)));
    throw new ConnectorError(
      "invalid_input",
      `${provider.def.name} does not allow the scope(s) ${named.join(", ")}${refused.length > 3 ? " and more" : ""}. ` +
        `Allowed scopes (list_providers shows them as allowed_scopes): ${allowed.join(", ")}. ` +
        "The provider's default scopes are always asked for; pass only the extras you need, or omit scopes.",
    );
  }
  return [...new Set([...(provider.def.oauth?.scopes ?? []), ...(asked ?? []), ...added])];
}
