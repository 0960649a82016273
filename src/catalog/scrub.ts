/**
 * Last-line checks on values that come from a provider and are stored in clear or shown to
 * the model (account facts, granted scopes): a provider that echoes a request back must not
 * turn a credential into an "account fact".
 */
import type { AccountFacts, Json } from "./catalog.js";

/** Shortest run shared with a secret that counts as a leak. */
const MIN_SHARED = 8;
const MAX_STRING = 300;
const MAX_ITEMS = 100;

/** True when `value` contains any run of 8 or more characters of one of the secrets. */
export function sharesSecret(value: string, secrets: readonly (string | undefined)[]): boolean {
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SHARED) continue;
    for (let i = 0; i + MIN_SHARED <= secret.length; i++) {
      if (value.includes(secret.slice(i, i + MIN_SHARED))) return true;
    }
  }
  return false;
}

function scrubValue(v: Json, secrets: readonly (string | undefined)[], depth: number): Json {
  if (typeof v === "string") return sharesSecret(v, secrets) ? "[redacted]" : v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…` : v;
  if (Array.isArray(v)) return v.slice(0, MAX_ITEMS).map((x) => scrubValue(x, secrets, depth + 1));
  if (v && typeof v === "object") {
    if (depth > 3) return null;
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v).slice(0, MAX_ITEMS)) out[k] = scrubValue(x, secrets, depth + 1);
    return out;
  }
  return v;
}

/** Account facts with any string that carries part of a secret replaced, and sizes capped. */
export function scrubFacts(facts: AccountFacts, secrets: readonly (string | undefined)[]): AccountFacts {
  return scrubValue(facts, secrets, 0) as AccountFacts;
}

/** Scope shape: letters, digits and `. _ : / -` (Google's scopes are URLs); no `=`, `&` or spaces. */
const SCOPE = /^[A-Za-z0-9._:/-]{1,200}$/;

/** The scopes a token response says were granted, keeping only scope-shaped values that carry no secret. */
export function grantedScopes(raw: string, secrets: readonly (string | undefined)[]): string[] {
  const out = new Set<string>();
  for (const s of raw.split(/[\s,]+/)) {
    if (s && SCOPE.test(s) && !sharesSecret(s, secrets)) out.add(s);
    if (out.size >= MAX_ITEMS) break;
  }
  return [...out];
}
