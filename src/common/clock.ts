/** The current time as an ISO 8601 string, from an injectable clock (milliseconds since the epoch). */
export function nowIso(deps: { clock: () => number }): string {
  return new Date(deps.clock()).toISOString();
}
