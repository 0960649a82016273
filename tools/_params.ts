// Input schemas several tools share, so a field means the same and is checked the same in every
// tool (github-mcp-server keeps its parameter helpers in one params.go the same way). A tool that
// needs another wording calls `.describe()` on the shared schema; the checks stay these.
import { z } from "zod";
import { ROLES } from "../src/catalog/catalog.js";
import type { ProviderRevocation } from "../src/credentials/revocation.js";

/** `connector_id`: a connector of the caller's workspace. */
export const connectorId = z.string().min(1).max(100).describe("The connector id, con_…");

/** `roles` (optional wherever it is taken): the roles a connector plays, a subset of what its provider allows. */
export const roles = z
  .array(z.enum(ROLES))
  .max(3)
  .optional()
  .describe("Roles this connector plays; default: every role the provider allows");

/** `settings` (optional wherever it is taken): non-secret per-connector settings, checked by the core against the provider's schema. */
export const settings = z
  .record(z.string(), z.unknown())
  .optional()
  .describe("Per-connector settings, checked against the provider's settings");

const PROVIDER_REVOCATIONS = ["revoked", "not_offered", "failed", "not_needed"] as const satisfies readonly ProviderRevocation[];
// Every outcome the core can report is listed (a new one is a compile error here).
const _everyRevocation: Exclude<ProviderRevocation, (typeof PROVIDER_REVOCATIONS)[number]> extends never ? true : never = true;
void _everyRevocation;

/** `provider_revocation`: what revoking a connector's grant did at the provider. */
export const providerRevocation = z.enum(PROVIDER_REVOCATIONS).describe("What happened at the provider");
