import { definitions } from "../../providers/index.js";
import { loadConfig } from "../app/config.js";
import { buildCatalog } from "../catalog/catalog.js";
import { listProviders } from "../catalog/listing.js";
import { type OpenedDatabase, openDatabase } from "../store/db.js";
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

const print = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + "\n");
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
    process.stdout.write(created.key + "\n");
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

/** `tenex-connectors providers`: the catalog, and which providers have OAuth app credentials. */
export function providersCommand(): void {
  const config = loadConfig(process.env);
  const catalog = buildCatalog(definitions, config.providers);
  process.stdout.write(JSON.stringify({ providers: listProviders(catalog) }, null, 2) + "\n");
}
