import type { Catalog, Role } from "./catalog.js";
import { allowedScopes } from "./rules.js";
import { pinnedVersion } from "./versions.js";

/** The catalog as clients see it: no endpoint, credential or hook. */
export function listProviders(catalog: Catalog, role?: Role) {
  return catalog
    .list()
    .filter((p) => !role || p.def.roles.includes(role))
    .map((p) => ({
      id: p.id,
      name: p.def.name,
      auth_types: [...p.def.auth_types],
      roles: [...p.def.roles],
      default_scopes: p.def.oauth?.scopes ?? [],
      allowed_scopes: allowedScopes(p),
      ...pinnedVersion(p),
      api_docs_url: p.def.api.docs_url,
      // Exactly "this server has OAuth app credentials for it": false for API-key-only providers, which need no app.
      configured: p.configured,
      settings: Object.keys(p.def.settings.shape),
      required_settings: Object.entries(p.def.settings.shape)
        .filter(([, s]) => !(s as { isOptional(): boolean }).isOptional())
        .map(([k]) => k),
    }));
}
