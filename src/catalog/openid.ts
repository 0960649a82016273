/**
 * openid-client, loaded on first use. It (with oauth4webapi and jose) is a good share of a cold
 * start, and a server answering `initialize` or `tools/list`, or reading a connector's status,
 * never needs it: only starting a grant, a code exchange, a refresh and a revocation do.
 */
import type * as Openid from "openid-client";

let loaded: typeof Openid | undefined;

/** The openid-client module (imported on the first call; Node keeps the one instance). */
export async function openid(): Promise<typeof Openid> {
  loaded ??= await import("openid-client");
  return loaded;
}

/**
 * The module when something has already loaded it, for `instanceof` checks on an error: an error
 * can only be one of openid-client's classes once the module is loaded, so `undefined` means
 * "not one of them".
 */
export function openidIfLoaded(): typeof Openid | undefined {
  return loaded;
}
