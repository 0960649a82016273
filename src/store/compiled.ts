/**
 * Hot queries built and compiled once, then run with new values. Building a query with Kysely's
 * builder and compiling it to SQL cost more than SQLite running it on the read paths every call
 * takes (get_connector_status, list_connectors: about a sixth of the server's CPU under a
 * get_connector_status loop, `--cpu-prof`). A compiled query here is built with named slots in
 * place of its values; each run binds the values by name, so the parameter order stays Kysely's.
 *
 * Only for queries whose SQL does not depend on the values, apart from the length of `in (…)`
 * lists and optional values: a slot list (`s.list("ids")`) is compiled once per length, an
 * optional value (`s.opt("cursor")`) once with and once without it. Cached per database handle
 * (a dialect compiles its own SQL); a transaction handle compiles on first use, like a builder.
 */
import { type Compilable, CompiledQuery } from "kysely";
import type { DB } from "./db.js";
import { ARRAY_ROWS, readNow } from "./statement-cache.js";

const SLOT = "\u0000slot:";

type Scalar = string | number | null;
type Params = Record<string, Scalar | readonly Scalar[] | undefined>;

/** Stand-ins for the values of a compiled query: `s.v("id")` for one value, `s.list("ids")` for an `in (…)` list. */
export interface Slots<P extends Params> {
  v<K extends keyof P & string>(name: K): Exclude<P[K], undefined> & Scalar;
  /** The slot of an optional value, or undefined when this run has none (each combination compiles once). */
  opt<K extends keyof P & string>(name: K): (Exclude<P[K], undefined> & Scalar) | undefined;
  list<K extends keyof P & string>(name: K): Extract<P[K], readonly Scalar[]>;
}

interface Compiled {
  sql: string;
  /** For each parameter: the slot it comes from (name, index in a list), or a constant. */
  order: Array<{ name: string; index?: number } | { value: unknown }>;
}

/**
 * A query compiled once per database handle (and per length of its lists). `build` gets slots
 * instead of values and must use every value through them; the result is run with `params`.
 */
export function compiledQuery<P extends Params, R>(
  build: (db: DB, s: Slots<P>) => Compilable<R>,
  opts: {
    /**
     * Read the rows from SQLite as arrays and make the objects here: better-sqlite3 builds each row
     * object through V8's API, which took about half of a list page's read (26 rows of 20 columns:
     * ≈190-220 µs as objects, ≈127 µs as arrays made into objects here; issue 14). PostgreSQL rows
     * come as objects either way.
     */
    rowsAsArrays?: boolean;
  } = {},
): (db: DB, params: P) => Promise<R[]> {
  const byDb = new WeakMap<DB, Map<string, Compiled>>();
  return async (db, params) => {
    let shape = "";
    for (const k in params) {
      const v = params[k];
      if (v === undefined) shape += `${k}:-,`;
      else if (Array.isArray(v)) shape += `${k}:${v.length},`;
    }
    let forDb = byDb.get(db);
    if (!forDb) {
      forDb = new Map();
      byDb.set(db, forDb);
    }
    let c = forDb.get(shape);
    if (!c) {
      c = compile(db, build, params);
      if (opts.rowsAsArrays) c.sql = ARRAY_ROWS + c.sql;
      forDb.set(shape, c);
    }
    const values = c.order.map((o) => {
      if ("value" in o) return o.value;
      const v = params[o.name];
      return o.index === undefined ? v : (v as readonly Scalar[])[o.index];
    });
    const rows =
      (readNow(db, c.sql, values) as R[] | undefined) ??
      (await db.executeQuery<R>(CompiledQuery.raw(c.sql, values) as CompiledQuery<R>)).rows;
    return opts.rowsAsArrays ? objectsOf<R>(rows) : rows;
  };
}

/** Rows read as arrays (headed by their column names: statement-cache.ts), as objects; objects (PostgreSQL) as they are. */
function objectsOf<R>(rows: readonly unknown[]): R[] {
  const head = rows[0];
  if (!Array.isArray(head)) return rows as R[];
  const columns = head as readonly string[];
  const out: R[] = new Array(rows.length - 1);
  for (let r = 1; r < rows.length; r++) {
    const values = rows[r] as readonly unknown[];
    const o: Record<string, unknown> = {};
    for (let i = 0; i < columns.length; i++) o[columns[i]!] = values[i];
    out[r - 1] = o as R;
  }
  return out;
}

function compile<P extends Params, R>(db: DB, build: (db: DB, s: Slots<P>) => Compilable<R>, params: P): Compiled {
  const slots: Slots<P> = {
    v: (name) => `${SLOT}${name}` as never,
    opt: (name) => (params[name] === undefined ? undefined : (`${SLOT}${name}` as never)),
    list: (name) => (params[name] as readonly Scalar[]).map((_, i) => `${SLOT}${name}.${i}`) as unknown as never,
  };
  const compiled = build(db, slots).compile();
  const order = compiled.parameters.map((p) => {
    if (typeof p !== "string" || !p.startsWith(SLOT)) return { value: p };
    const ref = p.slice(SLOT.length);
    const dot = ref.lastIndexOf(".");
    return dot > 0 && Array.isArray(params[ref.slice(0, dot)])
      ? { name: ref.slice(0, dot), index: Number(ref.slice(dot + 1)) }
      : { name: ref };
  });
  for (const name of Object.keys(params)) {
    const v = params[name];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    if (!order.some((o) => "name" in o && o.name === name))
      throw new Error(`compiledQuery: the value "${name}" is not used through its slot`);
  }
  return { sql: compiled.sql, order };
}
