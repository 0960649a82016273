/**
 * oidc-provider's storage on our database (store/oauth-server.ts), one adapter per model.
 *
 * Nothing the library stores is kept in plaintext: a row is keyed by sha256(model:id) (an opaque
 * token's id is the token itself) and its payload is sealed by the vault, bound to that key.
 *
 * Three behaviours of our own live here, where the library asks for stored state:
 * - A Client ID Metadata Document: a `client_id` that is an https URL (loopback http in
 *   development) is resolved by fetching its document (cimd.ts, the SSRF boundary), cached for
 *   its max-age.
 * - Unused dynamic registrations: a client registered through /register expires after
 *   UNUSED_CLIENT_MS unless a member allows it (consent.ts clears the expiry), and the sweep
 *   purges it.
 * - Refresh token reuse grace: a rotated refresh token presented again within
 *   REFRESH_REUSE_GRACE_MS reads as unused (the racing client gets its own new pair); after the
 *   grace it reads as consumed, and the library then revokes the whole grant.
 */
import { sha256Hex } from "../../../common/ids.js";
import type { Logger } from "../../../common/log.js";
import type { Vault } from "../../../credentials/vault.js";
import type { DB } from "../../../store/db.js";
import {
  consumeServerRecord,
  deleteServerRecord,
  endGrant,
  findServerRecord,
  findServerRecordByUid,
  upsertServerRecord,
} from "../../../store/oauth-server.js";
import { CimdError, type CimdOptions, fetchClientMetadata, isClientIdUrl } from "./cimd.js";

/** A dynamic registration nobody allowed within a day is purged. */
export const UNUSED_CLIENT_MS = 24 * 3600 * 1000;
/** Several processes of one client refreshing at once all succeed within this window. */
export const REFRESH_REUSE_GRACE_MS = 60 * 1000;
/** The model under which fetched client metadata documents are cached. */
const DOCUMENT_MODEL = "ClientMetadataDocument";

export type Payload = Record<string, unknown>;

export interface AdapterDeps {
  db: DB;
  vault: Vault;
  clock: () => number;
  log: Logger;
  cimd: CimdOptions;
  refused: RefusedDocuments;
}

export const recordKey = (model: string, id: string) => sha256Hex(`${model}:${id}`);
const aadOf = (keyHash: string) => `oauth_server_records:${keyHash}`;

/**
 * A desktop client's redirect URIs: loopback ones match on any port (RFC 8252 §7.3), and
 * private-use schemes (`com.example.app:/cb`, which a metadata document may list) are allowed;
 * oidc-provider does both for native clients only, and a metadata document has no
 * `application_type`. A client with any loopback or private-use URI is treated as native, so VS
 * Code (which registers `http://127.0.0.1:33418/` and `https://vscode.dev/redirect`, then uses a
 * free port when 33418 is taken) still matches; its https URIs keep matching exactly.
 */
function asNativeWhenLoopback(metadata: Payload): Payload {
  const uris = metadata.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0) return metadata;
  const native = uris.some((u) => {
    try {
      const url = new URL(String(u));
      if (url.protocol === "http:") return ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
      return url.protocol !== "https:";
    } catch {
      return false;
    }
  });
  return native ? { ...metadata, application_type: "native" } : metadata;
}

/** A refused client metadata document is not fetched again for a minute (each fetch may take the fetcher's whole timeout). */
export const REFUSED_DOCUMENT_MS = 60 * 1000;

/**
 * Client metadata documents recently refused, by client id: why (for the error page) and when.
 * One per authorization server; bounded.
 */
export class RefusedDocuments {
  private readonly refused = new Map<string, { why: string; at: number }>();

  constructor(private readonly clock: () => number) {}

  /** Why the document was refused within the last REFUSED_DOCUMENT_MS, or undefined. */
  recent(clientId: string): string | undefined {
    const r = this.refused.get(clientId);
    if (!r) return undefined;
    if (this.clock() - r.at >= REFUSED_DOCUMENT_MS) {
      this.refused.delete(clientId);
      return undefined;
    }
    return r.why;
  }

  add(clientId: string, why: string): void {
    if (this.refused.size >= 1000) this.refused.clear();
    this.refused.set(clientId, { why, at: this.clock() });
  }

  delete(clientId: string): void {
    this.refused.delete(clientId);
  }
}

export function adapterFactory(deps: AdapterDeps) {
  return class DatabaseAdapter {
    constructor(readonly model: string) {}

    private seal(keyHash: string, payload: Payload): string {
      return deps.vault.seal(JSON.stringify(payload), aadOf(keyHash));
    }

    private open(keyHash: string, sealed: string): Payload {
      return JSON.parse(deps.vault.open(sealed, aadOf(keyHash))) as Payload;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      const keyHash = recordKey(this.model, id);
      const now = deps.clock();
      let expiresAt = typeof expiresIn === "number" && expiresIn > 0 ? now + expiresIn * 1000 : null;
      // A registration nobody has allowed yet: purged after a day (consent.ts keeps it once allowed).
      if (this.model === "Client" && expiresAt === null) {
        const existing = await findServerRecord(deps.db, keyHash, now);
        expiresAt = existing ? existing.expires_at : now + UNUSED_CLIENT_MS;
      }
      const grantId = this.model === "Grant" ? id : typeof payload.grantId === "string" ? payload.grantId : null;
      const uid = typeof payload.uid === "string" ? payload.uid : null;
      await upsertServerRecord(deps.db, {
        key_hash: keyHash,
        model: this.model,
        grant_id: grantId,
        uid_hash: uid ? sha256Hex(`uid:${uid}`) : null,
        payload: this.seal(keyHash, payload),
        expires_at: expiresAt,
        consumed_at: null,
      });
    }

    async find(id: string): Promise<Payload | undefined> {
      if (this.model === "Client" && isClientIdUrl(id)) return this.findDocument(id);
      const keyHash = recordKey(this.model, id);
      const row = await findServerRecord(deps.db, keyHash, deps.clock());
      if (!row) return undefined;
      const payload = this.open(keyHash, row.payload);
      if (this.model === "Client") return asNativeWhenLoopback(payload);
      if (row.consumed_at !== null) {
        const withinGrace = this.model === "RefreshToken" && deps.clock() - row.consumed_at < REFRESH_REUSE_GRACE_MS;
        if (!withinGrace) payload.consumed = Math.floor(row.consumed_at / 1000);
      }
      return payload;
    }

    /** A Client ID Metadata Document: from the cache while fresh, else fetched (and refused as the fetcher says). */
    private async findDocument(clientId: string): Promise<Payload | undefined> {
      const keyHash = recordKey(DOCUMENT_MODEL, clientId);
      const now = deps.clock();
      const cached = await findServerRecord(deps.db, keyHash, now);
      if (cached) return asNativeWhenLoopback(this.open(keyHash, cached.payload));
      if (deps.refused.recent(clientId)) return undefined;
      try {
        const { metadata, maxAgeSeconds } = await fetchClientMetadata(clientId, deps.cimd);
        deps.refused.delete(clientId);
        const payload: Payload = { ...metadata };
        await upsertServerRecord(deps.db, {
          key_hash: keyHash,
          model: DOCUMENT_MODEL,
          grant_id: null,
          uid_hash: null,
          payload: this.seal(keyHash, payload),
          expires_at: now + maxAgeSeconds * 1000,
          consumed_at: null,
        });
        return asNativeWhenLoopback(payload);
      } catch (err) {
        const why = err instanceof CimdError ? `${err.code}: ${err.message}` : "the document could not be read";
        deps.refused.add(clientId, why);
        deps.log.info("client metadata document refused", { client_id: clientId.slice(0, 200), why });
        return undefined;
      }
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const row = await findServerRecordByUid(deps.db, this.model, sha256Hex(`uid:${uid}`), deps.clock());
      return row ? this.open(row.key_hash, row.payload) : undefined;
    }

    async findByUserCode(): Promise<undefined> {
      return undefined;
    }

    async consume(id: string): Promise<void> {
      await consumeServerRecord(deps.db, recordKey(this.model, id), deps.clock());
    }

    async destroy(id: string): Promise<void> {
      await deleteServerRecord(deps.db, recordKey(this.model, id));
    }

    /** The library ends a grant (refresh token reuse after the grace, a revoked refresh token): every token with it goes. */
    async revokeByGrantId(grantId: string): Promise<void> {
      const ended = await endGrant(deps.db, grantId, "refresh_token_reuse_or_revocation", new Date(deps.clock()).toISOString());
      if (ended) deps.log.info("mcp client grant ended", { id: ended.id, client_id: ended.client_id, workspace_id: ended.workspace_id });
    }
  };
}
