import type { CatalogDeps } from "../catalog/catalog.js";
import type { StoreDeps } from "../store/db.js";
import type { Limits } from "../store/quotas.js";
import type { Credential } from "./tokens.js";
import type { Vault } from "./vault.js";

/** One token refresh in flight in this process, and how many callers share it (the one that started it included). */
export interface RefreshFlight {
  credential: Promise<Credential>;
  callers: number;
}

/** The refresh engine's own state: one per process, created with the lease it takes. */
export interface RefreshEngine {
  /** Token refreshes in flight in this process, by connector id: concurrent callers share one (single-flight). */
  flights: Map<string, RefreshFlight>;
  /** How long a refresh may hold a connector's lease before another process may take over. */
  leaseMs: number;
  /** How much longer than one lease a refresh waits for another process's lease before it gives up (`conflict`). */
  waitSlackMs: number;
}

/** What credential work needs: storage, providers, the vault, and the refresh engine. */
export interface CredentialDeps extends StoreDeps, CatalogDeps {
  vault: Vault;
  refresh: RefreshEngine;
  /** Per-workspace quotas on pending grants and connectors (TENEX_MAX_PENDING_GRANTS, TENEX_MAX_CONNECTORS). */
  limits: Limits;
}

export function createRefreshEngine(leaseMs: number, waitSlackMs = 5_000): RefreshEngine {
  return { flights: new Map(), leaseMs, waitSlackMs };
}
