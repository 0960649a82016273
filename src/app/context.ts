/**
 * The context every request runs with, composed from the slices each layer declares:
 * StoreDeps (store/db.ts) and CatalogDeps (catalog/catalog.ts), then CredentialDeps
 * (credentials/deps.ts), then GrantDeps (grants/deps.ts). Types only: app/app.ts builds it.
 */
import type { GrantDeps } from "../grants/deps.js";

export type Context = GrantDeps;
