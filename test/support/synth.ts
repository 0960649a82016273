// Build small valid arguments from a JSON Schema, so tests can walk every tool and route
// generically (tools merged later are covered without editing the tests).
import { z } from "zod";
import type { ToolDefinition } from "../../src/transports/tool.js";

export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  minLength?: number;
  minimum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  $ref?: string;
  default?: unknown;
};

/** Values for well-known argument names; anything else gets a generic value of its type. */
export interface SynthHints {
  [name: string]: unknown;
}

export function synthValue(schema: JsonSchema, name: string, hints: SynthHints): unknown {
  if (name in hints) return hints[name];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt?.length) return synthValue(alt[0]!, name, hints);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "string":
      return "x".repeat(Math.max(1, schema.minLength ?? 1));
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return false;
    case "array":
      return schema.minItems ? [synthValue(schema.items ?? {}, name, hints)] : [];
    case "object":
      return synthObject(schema, hints);
    default:
      return "x";
  }
}

/**
 * The required properties, plus every numeric property at its minimum (so waits and page
 * sizes stay small), plus every hinted property the schema has.
 */
export function synthObject(schema: JsonSchema, hints: SynthHints): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const required = new Set(schema.required ?? []);
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const numeric = prop.type === "integer" || prop.type === "number";
    if (required.has(name) || name in hints || (numeric && prop.minimum !== undefined)) out[name] = synthValue(prop, name, hints);
  }
  return out;
}

export function inputSchemaOf(tool: ToolDefinition): JsonSchema {
  return z.toJSONSchema(tool.inputSchema, { target: "draft-2020-12", io: "input" }) as JsonSchema;
}

/** Valid arguments for a tool, with the given hints (e.g. connector_id). */
export function synthArgs(tool: ToolDefinition, hints: SynthHints): Record<string, unknown> {
  return synthObject(inputSchemaOf(tool), hints);
}
