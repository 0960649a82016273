/**
 * Token lifetimes from providers, made safe before any date math. A provider (or anything that
 * answers at its token endpoint) may send `expires_in: 1e300`, `-5`, `"soon"` or `1e400`
 * (Infinity once parsed). None of that may throw while tokens are being stored: a throw there
 * loses a rotated refresh token, or the tokens a callback just obtained. So every lifetime is
 * clamped to a sane range first, the tokens are stored whatever the lifetime said, and what was
 * odd is logged (the field and the problem, never a token).
 */
import type { Logger } from "../common/log.js";

/**
 * The longest lifetime believed: ten years. No provider in the catalog issues anything close
 * (LinkedIn's refresh tokens last a year, Meta's long-lived tokens 60 days); a longer claim is
 * kept as ten years, which keeps every date valid and only means renewing earlier than needed.
 */
export const MAX_LIFETIME_S = 10 * 365 * 86_400;

export type LifetimeProblem = "not_a_number" | "not_positive" | "too_large";

/** One odd lifetime field, and what was kept instead: unknown (absent) or the ten-year maximum. */
export interface OddLifetime {
  field: string;
  problem: LifetimeProblem;
  kept: "unknown" | "maximum";
  /** The number sent, when it was a number (a number is never a secret); strings are not repeated. */
  value?: number;
}

export type OddLifetimeSink = (odd: OddLifetime) => void;

/** Where a token response rewritten by `saneTokenBody` notes what it changed, for tokenSetFrom to report. */
export const ODD_LIFETIMES_FIELD = "x_tenex_odd_lifetimes";

/**
 * A lifetime in whole seconds (1 s to MAX_LIFETIME_S) from a provider field, or undefined when the
 * field is absent or unusable. Numeric strings are read as numbers. Not positive or not a number:
 * unknown (the token is then treated as having no stated lifetime: used until the provider refuses
 * it, then refreshed). Too large, Infinity included: the maximum.
 */
export function saneLifetime(value: unknown, field: string, odd?: OddLifetimeSink): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
  const shown = typeof value === "number" && Number.isFinite(value) ? { value } : {};
  if (Number.isNaN(n)) {
    odd?.({ field, problem: "not_a_number", kept: "unknown" });
    return undefined;
  }
  if (n <= 0) {
    odd?.({ field, problem: "not_positive", kept: "unknown", ...shown });
    return undefined;
  }
  if (n > MAX_LIFETIME_S) {
    odd?.({ field, problem: "too_large", kept: "maximum", ...shown });
    return MAX_LIFETIME_S;
  }
  return Math.max(1, Math.floor(n));
}

/**
 * An epoch-seconds instant kept within [0, now + MAX_LIFETIME_S], or undefined when it is not a
 * number. For instants a provider hook computed itself (Meta's long-lived token exchange).
 */
export function saneInstant(value: number | undefined, field: string, nowMs: number, odd?: OddLifetimeSink): number | undefined {
  if (value === undefined) return undefined;
  const latest = Math.floor(nowMs / 1000) + MAX_LIFETIME_S;
  if (typeof value !== "number" || Number.isNaN(value)) {
    odd?.({ field, problem: "not_a_number", kept: "unknown" });
    return undefined;
  }
  if (value < 0) {
    odd?.({ field, problem: "not_positive", kept: "unknown", ...(Number.isFinite(value) ? { value } : {}) });
    return undefined;
  }
  if (value > latest) {
    odd?.({ field, problem: "too_large", kept: "maximum", ...(Number.isFinite(value) ? { value } : {}) });
    return latest;
  }
  return Math.floor(value);
}

/**
 * The ISO form of an epoch-seconds instant, or null when it has none (not finite, or outside the
 * dates JavaScript can represent). Never throws, unlike `new Date(x).toISOString()`.
 */
export function isoFromEpochSeconds(s: number | null | undefined): string | null {
  if (typeof s !== "number" || !Number.isFinite(s)) return null;
  const d = new Date(s * 1000);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * Rewrite a token-endpoint JSON body so openid-client accepts it whatever its `expires_in` says
 * (it refuses a negative, non-numeric or infinite one, which would lose the tokens in the body):
 * the field is replaced by its sane value or removed, and the change is noted under
 * ODD_LIFETIMES_FIELD. Anything else in the body is left alone.
 */
export function saneTokenBody(body: Record<string, unknown>): Record<string, unknown> {
  if (!("expires_in" in body) || body.expires_in === undefined || body.expires_in === null) return body;
  const notes: OddLifetime[] = [];
  const seconds = saneLifetime(body.expires_in, "expires_in", (o) => notes.push(o));
  if (notes.length === 0 && typeof body.expires_in === "number") return body;
  const { expires_in: _dropped, ...rest } = body;
  return { ...rest, ...(seconds === undefined ? {} : { expires_in: seconds }), ...(notes.length ? { [ODD_LIFETIMES_FIELD]: notes } : {}) };
}

const PROBLEMS: readonly string[] = ["not_a_number", "not_positive", "too_large"] satisfies LifetimeProblem[];

/** The notes saneTokenBody left in a token response, checked: the rest of the body is the provider's, and so could a look-alike field be. */
export function oddLifetimesNoted(res: Record<string, unknown>): OddLifetime[] {
  const notes = res[ODD_LIFETIMES_FIELD];
  if (!Array.isArray(notes)) return [];
  return notes
    .filter((n): n is Record<string, unknown> => typeof n === "object" && n !== null)
    .filter((n) => n.field === "expires_in" && typeof n.problem === "string" && PROBLEMS.includes(n.problem))
    .map((n) => ({
      field: "expires_in",
      problem: n.problem as LifetimeProblem,
      kept: n.kept === "maximum" ? "maximum" : "unknown",
      ...(typeof n.value === "number" ? { value: n.value } : {}),
    }));
}

/**
 * The token endpoint's JSON answer with the provider's fix hook applied (LinkedIn: no
 * token_type) and its `expires_in` made acceptable (saneTokenBody). A body that is not a JSON
 * object is passed on unchanged, for openid-client to refuse in its own words.
 */
export async function saneTokenResponse(
  res: Response,
  fix?: (body: Record<string, unknown>) => Record<string, unknown>,
): Promise<Response> {
  if ([204, 205, 304].includes(res.status)) return res; // no body to read, and none may be given back
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const init = { status: res.status, statusText: res.statusText, headers: res.headers };
  if (typeof body !== "object" || body === null || Array.isArray(body)) return new Response(text, init);
  const record = body as Record<string, unknown>;
  return new Response(JSON.stringify(saneTokenBody(fix ? fix(record) : record)), init);
}

/** A sink that logs each odd lifetime as one warning line: which connector, provider and field, never a token. */
export function logOddLifetimes(
  log: Logger,
  fields: { connector_id: string; provider: string; during: "code exchange" | "refresh" },
): OddLifetimeSink {
  return (odd) =>
    log.warn("provider sent an odd token lifetime; the tokens were stored with a safe one", {
      ...fields,
      field: odd.field,
      problem: odd.problem,
      kept: odd.kept,
      ...(odd.value === undefined ? {} : { value: odd.value }),
    });
}
