import type { TokenSet } from "../catalog/catalog.js";
import { nowIso } from "../common/clock.js";
import type { DB } from "../store/db.js";
import type { CredentialDeps } from "./deps.js";

/** What a connector's secret row holds, sealed as one JSON document. */
export type StoredSecret = { kind: "oauth2"; tokens: TokenSet } | { kind: "api_key"; api_key: string };

/** Associated data: the ciphertext opens only in the row it was written for. */
const aad = (connectorId: string) => `connector_secrets:${connectorId}`;

/** Seal a secret for one connector's row (refreshes write it with their own compare-and-swap). */
export function sealSecret(ctx: Pick<CredentialDeps, "vault">, connectorId: string, secret: StoredSecret): string {
  return ctx.vault.seal(JSON.stringify(secret), aad(connectorId));
}

export async function writeSecret(ctx: Pick<CredentialDeps, "vault" | "clock">, db: DB, connectorId: string, secret: StoredSecret): Promise<void> {
  const ciphertext = sealSecret(ctx, connectorId, secret);
  const access_expires_at = secret.kind === "oauth2" ? (secret.tokens.expires_at ?? null) : null;
  const updated_at = nowIso(ctx);
  await db
    .insertInto("connector_secrets")
    .values({ connector_id: connectorId, ciphertext, version: 1, access_expires_at, updated_at })
    .onConflict((oc) =>
      oc.column("connector_id").doUpdateSet((eb) => ({
        ciphertext,
        access_expires_at,
        updated_at,
        version: eb("connector_secrets.version", "+", 1),
      })),
    )
    .execute();
}

export async function readSecret(ctx: Pick<CredentialDeps, "vault">, db: DB, connectorId: string): Promise<{ secret: StoredSecret; version: number } | undefined> {
  const row = await db.selectFrom("connector_secrets").select(["ciphertext", "version"]).where("connector_id", "=", connectorId).executeTakeFirst();
  if (!row) return undefined;
  return { secret: JSON.parse(ctx.vault.open(row.ciphertext, aad(connectorId))) as StoredSecret, version: row.version };
}

export async function deleteSecret(db: DB, connectorId: string): Promise<void> {
  await db.deleteFrom("connector_secrets").where("connector_id", "=", connectorId).execute();
}

export const grantAad = (stateHash: string) => `oauth_grants:${stateHash}`;
