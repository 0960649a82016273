// Prints the README's generated tables from the registries, or rewrites them in place with --write.
// A test checks README.md matches, so the tables cannot drift from the code.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { definitions } from "../providers/index.js";
import { buildCatalog } from "../src/catalog/catalog.js";
import { statusTable } from "../src/transports/http/openapi.js";
import { API_BASE, restRoutes } from "../src/transports/http/rest.js";
import { tools } from "../tools/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function toolsTable(): string {
  const rows = tools.map((t) => {
    const input = Object.keys(t.inputSchema.shape)
      .map((k) => ((t.inputSchema.shape as Record<string, { isOptional(): boolean }>)[k]!.isOptional() ? `\`${k}?\`` : `\`${k}\``))
      .join(", ");
    // The first sentence; abbreviations such as "e.g." do not end one.
    const summary =
      /^.*?[.!?](?=\s+[A-Z]|$)/s.exec(t.description.replace(/\b(e\.g|i\.e)\./g, "$1\u0000"))?.[0].replace(/\u0000/g, ".") ?? t.description;
    return `| \`${t.name}\` | ${input || "—"} | ${summary} |`;
  });
  return ["| tool | input | does |", "|---|---|---|", ...rows].join("\n");
}

export function providersTable(): string {
  const catalog = buildCatalog(definitions, {});
  const rows = catalog.list().map((p) => {
    const settings = Object.keys(p.def.settings.shape)
      .map((k) => `\`${k}\``)
      .join(", ");
    const v = p.def.api_versions[0];
    const version = v ? `\`${v.version}\`${v.ends ? ` (until ${v.ends}${v.confirmed ? "" : ", estimated"})` : ""}` : "—";
    return `| \`${p.id}\` | ${p.def.name} | ${p.def.auth_types.join(", ")} | ${p.def.roles.join(", ")} | ${settings} | ${version} | ${p.def.setup} [docs](${p.def.docs_url}) | \`TENEX_${p.id.toUpperCase()}_…\` |`;
  });
  return [
    "| id | provider | auth | roles | settings | API version | setup | env prefix |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** What a REST row adds to its tool's name, besides a 201. */
const REST_NOTES: Record<string, string> = {
  list_connectors: "pass `next_cursor` back as `cursor`",
  start_connector_oauth: "the body has `authorization_url`",
  get_connector_status: "poll a grant's status",
};

/** The REST routes, from the tools' own route metadata: method, path and query arguments, and the tool. */
export function restTable(): string {
  const rows = restRoutes(tools).map((route) => {
    const tool = tools.find((t) => t.name === route.tool)!;
    const fromPath = new Set(Object.values(route.params ?? {}));
    const query = route.from === "query" ? Object.keys(tool.inputSchema.shape).filter((k) => !fromPath.has(k)) : [];
    const target = `${route.method} ${API_BASE}${route.path}${query.length ? `?${query.map((k) => `${k}=`).join("&")}` : ""}`;
    const notes = [...(route.status === 201 ? ["201"] : []), ...(REST_NOTES[route.tool] ? [REST_NOTES[route.tool]] : [])];
    return `| \`${target}\` | \`${route.tool}\`${notes.length ? ` (${notes.join("; ")})` : ""} |`;
  });
  return ["| method and path | tool |", "|---|---|", ...rows].join("\n");
}

export function renderReadme(readme: string): string {
  const put = (text: string, name: string, table: string) =>
    text.replace(
      new RegExp(`(<!-- ${name}:start -->)[\\s\\S]*?(<!-- ${name}:end -->)`),
      (_m, a: string, b: string) => `${a}\n${table}\n${b}`,
    );
  return put(put(put(put(readme, "tools", toolsTable()), "providers", providersTable()), "rest", restTable()), "errors", statusTable());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = path.join(ROOT, "README.md");
  const next = renderReadme(fs.readFileSync(file, "utf8"));
  if (process.argv.includes("--write")) fs.writeFileSync(file, next);
  else process.stdout.write(next);
}
