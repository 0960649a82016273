import crypto from "node:crypto";

/** Random ids with a readable prefix, e.g. `con_3f9a…`. */
export function newId(prefix: string, bytes = 12): string {
  return `${prefix}_${crypto.randomBytes(bytes).toString("hex")}`;
}

export function sha256Hex(s: string): string {
  return crypto.createHash("sha256").update(s, "utf8").digest("hex");
}
