import { definitions } from "../../providers/index.js";
import { loadConfig } from "../app/config.js";
import { buildCatalog } from "../catalog/catalog.js";
import { listProviders } from "../catalog/listing.js";
import { writeMasterKeyCheck } from "../credentials/key-check.js";
import { hashPassword, passwordProblem } from "../credentials/passwords.js";
import { loadOrCreateMasterKey, parseMasterKey, Vault, VaultError } from "../credentials/vault.js";
import { copyDatabase } from "../store/copy.js";
import { type OpenedDatabase, openDatabase } from "../store/db.js";
import { redactDatabaseTarget } from "../store/dialect.js";
import { addMember, listMembers, removeMember } from "../store/members.js";
import { listClientGrants, revokeClientGrant } from "../store/oauth-server.js";
import { readServerKey } from "../store/server-keys.js";
import { createApiKey, createWorkspace, findWorkspace, listApiKeys, listWorkspaces, revokeApiKey } from "../store/workspaces.js";
import { parseArgs, UsageError } from "./args.js";

async function withDatabase<T>(fn: (db: OpenedDatabase["db"]) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const database = await openDatabase(config.db_path, { allowGroupWritable: config.allow_group_writable });
  try {
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const now = () => new Date().toISOString();

/** `workspaces create NAME`: prints `{ "id", "name" }`; `workspaces list`: `[ { id, name, created_at } ]`. */
export async function workspacesCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const args = parseArgs(rest, { values: [], flags: [] });
  if (sub === "create") {
    const [name, extra] = args.positional;
    if (!name || extra !== undefined) throw new UsageError("workspaces create takes one NAME");
    print(await withDatabase((db) => createWorkspace(db, name, now())));
    return;
  }
  if (sub === "list") {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    print(await withDatabase((db) => listWorkspaces(db)));
    return;
  }
  throw new UsageError(sub ? `unknown workspaces command "${sub}"` : "workspaces needs a command: create NAME, or list");
}

/** `keys create --workspace X` (prints the key alone, once), `keys list [--workspace X]`, `keys revoke KEY_ID`. */
export async function keysCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const args = parseArgs(rest, { values: ["workspace"], flags: [] });
  const ws = args.options.get("workspace");
  const workspace = typeof ws === "string" ? ws : undefined;
  if (sub === "create") {
    if (!workspace) throw new UsageError("keys create needs --workspace ID_OR_NAME");
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    const created = await withDatabase(async (db) => createApiKey(db, (await findWorkspace(db, workspace)).id, now()));
    process.stdout.write(`${created.key}\n`);
    process.stderr.write(`Created key ${created.id} (${created.prefix}…). It is shown only this once: store it now.\n`);
    return;
  }
  if (sub === "list") {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    print(await withDatabase(async (db) => listApiKeys(db, workspace ? (await findWorkspace(db, workspace)).id : undefined)));
    return;
  }
  if (sub === "revoke") {
    const [keyId, extra] = args.positional;
    if (!keyId || extra !== undefined || workspace) throw new UsageError("keys revoke takes one KEY_ID");
    print(await withDatabase((db) => revokeApiKey(db, keyId, now())));
    return;
  }
  throw new UsageError(sub ? `unknown keys command "${sub}"` : "keys needs a command: create, list or revoke");
}

/** All of stdin, without its final line break (a password piped in with `echo` or `printf`). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/**
 * `members add --workspace W --email E [--password-stdin]` (prints `{ id, workspace_id, email }`;
 * without a password the member signs in only through single sign-on), `members list --workspace W`,
 * `members remove ID` (their sign-in sessions end at once). The password is read from stdin only,
 * never from an argument (argv is visible to other users in `ps`), and never printed.
 */
export async function membersCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const args = parseArgs(rest, { values: ["workspace", "email"], flags: ["password-stdin"] });
  const ws = args.options.get("workspace");
  const workspace = typeof ws === "string" ? ws : undefined;
  if (sub === "add") {
    const email = args.options.get("email");
    if (!workspace || typeof email !== "string") throw new UsageError("members add needs --workspace ID_OR_NAME and --email EMAIL");
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    let passwordHash: string | null = null;
    if (args.options.get("password-stdin") === true) {
      const password = await readStdin();
      const problem = passwordProblem(password);
      if (problem) throw new Error(problem);
      passwordHash = await hashPassword(password);
    }
    print(
      await withDatabase(async (db) =>
        addMember(db, { workspace_id: (await findWorkspace(db, workspace)).id, email, password_hash: passwordHash, now: now() }),
      ),
    );
    return;
  }
  if (sub === "list") {
    if (!workspace) throw new UsageError("members list needs --workspace ID_OR_NAME");
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    print(await withDatabase(async (db) => listMembers(db, (await findWorkspace(db, workspace)).id)));
    return;
  }
  if (sub === "remove") {
    const [id, extra] = args.positional;
    if (!id || extra !== undefined || workspace || args.options.size) throw new UsageError("members remove takes one member ID");
    const removed = await withDatabase((db) => removeMember(db, id));
    print({ id: removed.id, workspace_id: removed.workspace_id, email: removed.email });
    process.stderr.write(
      `Removed ${removed.email}; ${removed.sessions_ended} sign-in session(s) and ${removed.client_grants_ended} MCP client grant(s) ended.\n`,
    );
    return;
  }
  throw new UsageError(sub ? `unknown members command "${sub}"` : "members needs a command: add, list or remove");
}

/**
 * `clients list [--workspace W]`: the MCP clients members allowed in through OAuth (who, which
 * client, which workspace, when, and when and why it ended); `clients revoke ID`: ends that grant,
 * every token of it stops working at once.
 */
export async function clientsCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const args = parseArgs(rest, { values: ["workspace"], flags: [] });
  const workspace = args.options.get("workspace");
  if (sub === "list") {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    const rows = await withDatabase(async (db) =>
      listClientGrants(db, typeof workspace === "string" ? (await findWorkspace(db, workspace)).id : undefined),
    );
    print(rows.map(({ grant_id: _grant, ...shown }) => shown));
    return;
  }
  if (sub === "revoke") {
    const [id, extra] = args.positional;
    if (!id || extra !== undefined || args.options.size) throw new UsageError("clients revoke takes one ID (from clients list)");
    const revoked = await withDatabase((db) => revokeClientGrant(db, id, "revoked_by_operator", now()));
    print({ id: revoked.id, client_id: revoked.client_id, workspace_id: revoked.workspace_id, revoked_at: revoked.revoked_at });
    return;
  }
  throw new UsageError(sub ? `unknown clients command "${sub}"` : "clients needs a command: list or revoke");
}

/** `tenex-connectors providers`: the catalog, and which providers have OAuth app credentials. */
export function providersCommand(): void {
  const config = loadConfig(process.env);
  const catalog = buildCatalog(definitions, config.providers);
  process.stdout.write(`${JSON.stringify({ providers: listProviders(catalog) }, null, 2)}\n`);
}

/**
 * `db copy --to URL`: copy the current database (TENEX_DB) into an empty one, typically SQLite
 * into PostgreSQL, keeping row ids so sealed secrets still open. Prints what was copied as JSON.
 * The target gets the master key check of the source's key: an instance started on it with
 * another TENEX_MASTER_KEY is refused.
 */
export async function dbCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== "copy") throw new UsageError(sub ? `unknown db command "${sub}"` : "db needs a command: copy --to URL");
  const args = parseArgs(rest, { values: ["to"], flags: [] });
  const to = args.options.get("to");
  if (typeof to !== "string" || to === "") throw new UsageError("db copy needs --to URL (or a SQLite file path)");
  if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
  const config = loadConfig(process.env);
  if (to === config.db_path) throw new UsageError("db copy --to names the database TENEX_DB already names");
  const vault = new Vault(
    loadOrCreateMasterKey({ masterKey: config.master_key, dataDir: config.data_dir, allowGroupWritable: config.allow_group_writable }),
    config.previous_master_keys.map((k, i) => parseMasterKey(k, `TENEX_MASTER_KEY_PREVIOUS[${i}]`)),
  );
  const source = await openDatabase(config.db_path, { allowGroupWritable: config.allow_group_writable });
  try {
    await assertKeyOpens(source.db, vault);
    const target = await openDatabase(to, { allowGroupWritable: config.allow_group_writable });
    try {
      const copied = await copyDatabase(source.db, target.db);
      await writeMasterKeyCheck({ db: target.db, vault, clock: Date.now });
      print({ from: source.describe, to: target.describe, tables: copied.tables });
      const key = config.master_key ? "the same TENEX_MASTER_KEY" : `TENEX_MASTER_KEY set to the key in ${config.data_dir}/master.key`;
      process.stderr.write(`Copied into ${redactDatabaseTarget(to)}. Start every instance with TENEX_DB set to it and ${key}.\n`);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** The copy is useless with a key that cannot open the source's secrets: check one the server always keeps. */
async function assertKeyOpens(db: OpenedDatabase["db"], vault: Vault): Promise<void> {
  const sealed = await readServerKey(db, "request_state");
  if (!sealed) return; // never served: nothing sealed yet
  try {
    vault.open(sealed, "server_keys:request_state");
  } catch (err) {
    if (!(err instanceof VaultError)) throw err;
    throw new Error(
      "the master key (TENEX_MASTER_KEY, or data/master.key) cannot open the secrets of the database being copied: set the key that database was used with",
    );
  }
}
