import { z } from "zod";
import type { TokenSet } from "../catalog/catalog.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { newId } from "../common/ids.js";
import type { Logger } from "../common/log.js";
import { jsonValue } from "../store/connectors.js";
import type { DB } from "../store/db.js";
import type { CredentialDeps } from "./deps.js";
import { VaultError } from "./vault.js";

const tokenSetSchema = z.object({
  access_token: z.string(),
  refresh_token: z.string().optional(),
  token_type: z.string().optional(),
  expires_at: z.number().optional(),
  refresh_expires_at: z.number().optional(),
  obtained_at: z.number().optional(),
  scope: z.string().optional(),
  extras: z.record(z.string(), jsonValue).optional(),
}) satisfies z.ZodType<TokenSet>;

const storedSecretSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("oauth2"), tokens: tokenSetSchema }),
  z.object({ kind: z.literal("api_key"), api_key: z.string() }),
]);

/** What a connector's secret row holds, sealed as one JSON document. */
export type StoredSecret = { kind: "oauth2"; tokens: TokenSet } | { kind: "api_key"; api_key: string };

/** Associated data: the ciphertext opens only in the row it was written for. */
const aad = (connectorId: string) => `connector_secrets:${connectorId}`;

/** Seal a secret for one connector's row (refreshes write it with their own compare-and-swap). */
export function sealSecret(ctx: Pick<CredentialDeps, "vault">, connectorId: string, secret: StoredSecret): string {
  return ctx.vault.seal(JSON.stringify(secret), aad(connectorId));
}

export async function writeSecret(
  ctx: Pick<CredentialDeps, "vault" | "clock">,
  db: DB,
  connectorId: string,
  secret: StoredSecret,
): Promise<void> {
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

/**
 * The connector's stored secret and its version, or undefined when none is stored. Throws
 * VaultError when it does not open (sealed under another master key, tampered with, moved from
 * another row, or not a secret document): see `unreadableSecret`.
 */
export async function readSecret(
  ctx: Pick<CredentialDeps, "vault">,
  db: DB,
  connectorId: string,
): Promise<{ secret: StoredSecret; version: number } | undefined> {
  const row = await db
    .selectFrom("connector_secrets")
    .select(["ciphertext", "version"])
    .where("connector_id", "=", connectorId)
    .executeTakeFirst();
  if (!row) return undefined;
  const plaintext = ctx.vault.open(row.ciphertext, aad(connectorId));
  let doc: unknown;
  try {
    doc = JSON.parse(plaintext);
  } catch {
    throw new VaultError("the stored secret is not a JSON document");
  }
  const parsed = storedSecretSchema.safeParse(doc);
  if (!parsed.success) throw new VaultError("the stored secret does not have the expected shape");
  return { secret: parsed.data, version: row.version };
}

/**
 * A stored secret that does not open is never treated as missing: it is logged (with a log id,
 * never the ciphertext) and the operation fails as `internal`. Two servers sharing a database
 * with different master keys is the usual cause.
 */
export function unreadableSecret(log: Logger, connectorId: string, err: unknown, during: string): ConnectorError {
  const logId = newId("err", 6);
  log.error(`a stored secret could not be opened ${during}`, { connector_id: connectorId, log_id: logId, error: err });
  return new ConnectorError("internal", `An internal error occurred. The operator can find it in the server log under ${logId}.`, {
    cause: err,
  });
}

export const grantAad = (stateHash: string) => `oauth_grants:${stateHash}`;
