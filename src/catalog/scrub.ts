/**
 * Last-line checks on values that come from a provider and are stored in clear or shown to
 * the model (account facts, granted scopes). Account facts are provider data a model reads: each
 * is kept only as the type its provider declares (an id, an email, a URL or a name) and within
 * that type's cap, free text loses control and bidi characters, and a provider that echoes a
 * request back must not turn a credential into an "account fact".
 */
import { cleanText, stripUnsafe } from "../common/text.js";
import type { AccountFacts, FactType, Json } from "./catalog.js";

/** Shortest run shared with a secret that counts as a leak. */
const MIN_SHARED = 8;
const MAX_ITEMS = 100;

/** Hard caps per fact type: a name is a few dozen characters, never a paragraph. */
export const FACT_CAPS: Record<FactType, number> = { id: 128, email: 254, url: 512, name: 60 };

/** An identifier: no spaces, no words strung into sentences. */
const ID = /^[A-Za-z0-9._:@/+=-]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

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

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

/** One string as its declared type, or null when it is not one (too long, wrong shape). */
export function typedFact(value: string, type: FactType): string | null {
  if (type === "name") return cleanText(value, FACT_CAPS.name) || null;
  const v = stripUnsafe(value);
  if (v === "" || v.length > FACT_CAPS[type]) return null;
  if (type === "id") return ID.test(v) ? v : null;
  if (type === "email") return EMAIL.test(v) ? v : null;
  return isHttpUrl(v) && !/\s/.test(v) ? v : null;
}

function factValue(v: Json, type: FactType, secrets: readonly (string | undefined)[], inArray: boolean): Json {
  if (typeof v === "string") return sharesSecret(v, secrets) ? "[redacted]" : typedFact(v, type);
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean" || v === null) return v;
  if (Array.isArray(v) && !inArray) {
    return v.slice(0, MAX_ITEMS).flatMap((x) => {
      const out = factValue(x, type, secrets, true);
      return out === null ? [] : [out];
    });
  }
  return null; // objects and nested arrays are no account fact
}

/**
 * Account facts as stored and shown: only the fields the provider declares, each string checked
 * against its type and capped (a value that is not one becomes null), and any string carrying
 * part of a secret replaced. Values stay plain strings, numbers and lists of them.
 */
export function scrubFacts(
  facts: AccountFacts,
  types: Readonly<Record<string, FactType>>,
  secrets: readonly (string | undefined)[],
): AccountFacts {
  const out: AccountFacts = {};
  for (const [k, type] of Object.entries(types)) {
    if (Object.hasOwn(facts, k)) out[k] = factValue(facts[k] ?? null, type, secrets, false);
  }
  return out;
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
