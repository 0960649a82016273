import { redactText } from "../common/log.js";
import { UsageError } from "./args.js";

const USAGE = `Usage:
  tenex-connectors [serve]        stdio MCP server (what mcp.json runs)
    --open-browser                also open authorization URLs in the default browser (or TENEX_OPEN_BROWSER=1)
  tenex-connectors serve --http [--port N] [--host H] [--no-auth-loopback]
                                  HTTP mode: /mcp, /sse + /messages, /api/v1, /oauth/callback, /login, /healthz,
                                  and OAuth sign-in for remote MCP clients (/authorize, /token, /register)
                                  (default 127.0.0.1:8080; --no-auth-loopback: requests without a key
                                  act for the local workspace, loopback hosts only)
  tenex-connectors workspaces create NAME               prints { "id", "name" }
  tenex-connectors workspaces list                      prints [ { id, name, created_at } ]
  tenex-connectors keys create --workspace ID_OR_NAME   prints a new tnx_ key, once
  tenex-connectors keys list [--workspace ID_OR_NAME]   prints [ { id, workspace_id, prefix, created_at, revoked_at } ] (never the key)
  tenex-connectors keys revoke KEY_ID                   the key stops working at once
  tenex-connectors members add --workspace W --email E [--password-stdin]
                                  prints { "id", "workspace_id", "email" } (password read from stdin;
                                  without one the member signs in only through single sign-on)
  tenex-connectors members list --workspace W           prints [ { id, workspace_id, email, created_at, has_password } ]
  tenex-connectors members remove ID                    removes the member and ends their sign-in sessions and client grants
  tenex-connectors clients list [--workspace W]         prints the MCP clients members allowed in through OAuth:
                                  [ { id, client_id, client_name, workspace_id, member_id, created_at, revoked_at, … } ]
  tenex-connectors clients revoke ID                    ends that client's grant: its tokens stop working at once
  tenex-connectors providers      the catalog, and which providers have OAuth app credentials
  tenex-connectors db copy --to URL                     copies the current database (TENEX_DB) into an empty one,
                                  e.g. postgres://user:password@host:5432/db, keeping row ids
  tenex-connectors --help`;

/** Errors go to stderr with a non-zero exit; stdout carries only the result. */
function fail(message: string, code = 1): never {
  process.stderr.write(`tenex-connectors: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const [cmd = "serve", ...rest] = argv;
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // The serve modes load the MCP SDK and HTTP code; admin commands start without them, and the
  // stdio server without the admin commands (password hashing, database copy: issue 14, cold start).
  if (cmd === "serve" && rest.includes("--http")) return (await import("./http.js")).serveHttp(rest);
  if (cmd === "workspaces") return (await import("./admin.js")).workspacesCommand(rest);
  if (cmd === "keys") return (await import("./admin.js")).keysCommand(rest);
  if (cmd === "members") return (await import("./admin.js")).membersCommand(rest);
  if (cmd === "clients") return (await import("./admin.js")).clientsCommand(rest);
  if (cmd === "db") return (await import("./admin.js")).dbCommand(rest);
  if (cmd === "serve") {
    const openBrowser = rest.includes("--open-browser");
    const unknown = rest.filter((a) => a !== "--open-browser");
    if (unknown.length > 0) fail(`unknown option ${unknown[0]}\n${USAGE}`, 2);
    return (await import("./stdio.js")).serveStdio({ openBrowser });
  }
  if (cmd === "providers") return (await import("./admin.js")).providersCommand();
  fail(`unknown command "${cmd}"\n${USAGE}`, 2);
}

/** A file-system refusal on the data folder, with the way out: TENEX_DB. */
function explain(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = err instanceof Error ? err.message : String(err);
  if (["EACCES", "EPERM", "EROFS", "ENOTDIR"].includes(e?.code ?? "")) {
    return `${message}\nThe database folder cannot be created or written here${e.path ? ` (${e.path})` : ""}. Set TENEX_DB to a file in a folder you can write, for example TENEX_DB="$HOME/.local/share/tenex-connectors/tenex.db".`;
  }
  return message;
}

/** Run the command line; errors go to stderr with a non-zero exit. */
export function runCli(argv: string[]): void {
  main(argv).catch((err: unknown) => {
    if (err instanceof UsageError) fail(`${err.message}\n${USAGE}`, 2);
    // A database URL in an error keeps its password out of the terminal too.
    fail(redactText(explain(err)));
  });
}
