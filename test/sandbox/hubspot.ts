// HubSpot stand-in: a real OAuth server plus a fake api.hubapi.com answering
// GET /account-info/2026-03/details (and the legacy /account-info/v3/details). See ../shared/providers.md (the team notes) §8.
import { createHash } from "node:crypto";

import type { OAuthServer } from "./oauth-server.js";
import { type ProviderSandbox, startProviderSandbox } from "./provider.js";

export const HUBSPOT_SCOPES = [
  "oauth",
  "crm.objects.contacts.read",
  "crm.objects.contacts.write",
  "crm.objects.companies.read",
  "crm.objects.companies.write",
  "crm.objects.deals.read",
  "crm.objects.deals.write",
  "crm.objects.owners.read",
];

/** Stable portal id for a sandbox account: 4242 + a number in [0, 10000) derived from the accountId. */
export function portalIdFor(accountId: string): number {
  const h = createHash("sha256").update(accountId).digest();
  return 4242 + (h.readUInt32BE(0) % 10000);
}

export interface HubSpotSandboxOptions {
  redirectUri: string;
  rotateRefreshToken?: boolean;
  accessTokenTtl?: number;
  omitIss?: boolean;
}

export type HubSpotSandbox = ProviderSandbox & {
  /** The next `n` account reads (the test read) answer 503. */
  failNextAccountReads(n: number): void;
};

export async function startHubSpotSandbox(opts: HubSpotSandboxOptions): Promise<HubSpotSandbox> {
  let oauth: OAuthServer | undefined;
  let failReads = 0;
  const sandbox = await startProviderSandbox({
    provider: "hubspot",
    redirectUri: opts.redirectUri,
    scopes: HUBSPOT_SCOPES,
    oauth: {
      rotateRefreshToken: opts.rotateRefreshToken ?? false, // HubSpot keeps the refresh token
      accessTokenTtl: opts.accessTokenTtl ?? 1800, // HubSpot: 30 minutes
      omitIss: opts.omitIss ?? false,
    },
    routes: {
      // Token validity is checked by the sandbox before a route runs.
      "GET /account-info/2026-03/details": async (req) => {
        if (failReads > 0) {
          failReads--;
          return { status: 503, json: { status: "error", category: "SERVICE_UNAVAILABLE" } };
        }
        const info = req.token && oauth ? await oauth.validateAccessToken(req.token) : null;
        if (!info) return { status: 401, json: { status: "error", message: "Authentication credentials not found" } };
        return {
          json: {
            portalId: portalIdFor(info.accountId),
            timeZone: "Europe/Berlin",
            companyCurrency: "EUR",
            accountType: "STANDARD",
            uiDomain: "app.hubspot.com",
            dataHostingLocation: "na1",
          },
        };
      },
    },
  });
  oauth = sandbox.oauth;
  return Object.assign(sandbox, {
    failNextAccountReads: (n: number) => {
      failReads = n;
    },
  });
}
