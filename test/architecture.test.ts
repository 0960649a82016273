/**
 * The import rule of docs/ARCHITECTURE.md: a layer imports at runtime only from layers below it,
 * and no imports (type imports included) form a cycle between files.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

/** Highest first. `tools/` and `providers/` sit at the repository root but are layers like the folders of src/. */
export const LAYERS = [
  "main",
  "app",
  "tools",
  "transports",
  "grants",
  "connectors",
  "credentials",
  "store",
  "providers",
  "catalog",
  "common",
] as const;

function layerOf(file: string): string {
  const rel = path.relative(ROOT, file).split(path.sep);
  if (rel[0] === "tools" || rel[0] === "providers") return rel[0];
  if (rel[0] === "src" && rel.length === 2) return "main"; // src/cli.ts, the bin shim
  if (rel[0] === "src" && rel[1]) return rel[1];
  throw new Error(`${file} is in no layer`);
}

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) out.push(p);
    }
  };
  for (const d of ["src", "tools", "providers"]) walk(path.join(ROOT, d));
  return out;
}

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function edges(): Edge[] {
  const re = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+["'](\.[^"']+)["']/gm;
  const out: Edge[] = [];
  for (const from of sources()) {
    for (const m of fs.readFileSync(from, "utf8").matchAll(re)) {
      const to = path.resolve(path.dirname(from), m[4] ?? "").replace(/\.js$/, ".ts");
      // `import { type A, type B }` is type-only too.
      const names = (m[3] ?? "")
        .replace(/^\{|\}$/g, "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const typeOnly = Boolean(m[2]) || (names.length > 0 && names.every((n) => n.startsWith("type ")));
      out.push({ from, to, typeOnly });
    }
  }
  return out;
}

const rel = (f: string) => path.relative(ROOT, f);

describe("architecture", () => {
  it("every file sits in a known layer", () => {
    for (const f of sources()) expect(LAYERS as readonly string[], rel(f)).toContain(layerOf(f));
  });

  it("no runtime import points up the layer list", () => {
    const bad = edges()
      .filter((e) => !e.typeOnly)
      .filter((e) => LAYERS.indexOf(layerOf(e.to) as never) < LAYERS.indexOf(layerOf(e.from) as never))
      .map((e) => `${rel(e.from)} -> ${rel(e.to)}`);
    expect(bad).toEqual([]);
  });

  it("no type import points up the layer list either (a layer's types come from below it)", () => {
    const bad = edges()
      .filter((e) => e.typeOnly)
      .filter((e) => LAYERS.indexOf(layerOf(e.to) as never) < LAYERS.indexOf(layerOf(e.from) as never))
      .map((e) => `${rel(e.from)} -> ${rel(e.to)}`);
    expect(bad).toEqual([]);
  });

  it("no two files import each other, directly or through others", () => {
    const graph = new Map<string, string[]>();
    for (const e of edges()) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    // Tarjan's strongly connected components; any component of two or more files is a cycle.
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const on = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
        } else if (on.has(w)) low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
      }
      if (low.get(v) === idx.get(v)) {
        const comp: string[] = [];
        let w: string | undefined;
        do {
          w = stack.pop();
          if (w) {
            on.delete(w);
            comp.push(rel(w));
          }
        } while (w && w !== v);
        if (comp.length > 1) cycles.push(comp.sort());
      }
    };
    for (const f of sources()) if (!idx.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it("the rule is checked for real: an upward import would be caught", () => {
    expect(LAYERS.indexOf("app")).toBeLessThan(LAYERS.indexOf("store"));
    expect(layerOf(path.join(ROOT, "src/store/db.ts"))).toBe("store");
    expect(layerOf(path.join(ROOT, "tools/list_providers.ts"))).toBe("tools");
    expect(layerOf(path.join(ROOT, "src/cli.ts"))).toBe("main");
  });
});
