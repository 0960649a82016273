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
