// HubSpot stand-in: a real OAuth server plus a fake api.hubapi.com answering
// GET /account-info/v3/details. See /work/shared/providers.md §8.
import { createHash, randomBytes } from 'node:crypto';

import { startFakeApi, type FakeApi } from './fake-api.js';
import { startOAuthServer, type OAuthServer } from './oauth-server.js';

export const HUBSPOT_SCOPES = [
  'oauth',
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.objects.companies.read',
  'crm.objects.companies.write',
  'crm.objects.deals.read',
  'crm.objects.deals.write',
  'crm.objects.owners.read',
];

/** Stable portal id for a sandbox account: 4242 + a number in [0, 10000) derived from the accountId. */
export function portalIdFor(accountId: string): number {
  const h = createHash('sha256').update(accountId).digest();
  return 4242 + (h.readUInt32BE(0) % 10000);
}

export interface HubSpotSandboxOptions {
  redirectUri: string;
  rotateRefreshToken?: boolean;
  accessTokenTtl?: number;
  omitIss?: boolean;
}

export interface HubSpotSandbox {
  oauth: OAuthServer;
  api: FakeApi;
  clientId: string;
  clientSecret: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startHubSpotSandbox(opts: HubSpotSandboxOptions): Promise<HubSpotSandbox> {
  const clientId = `hubspot-sandbox-${randomBytes(6).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');

  const oauth = await startOAuthServer({
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [opts.redirectUri] }],
    scopes: HUBSPOT_SCOPES,
    rotateRefreshToken: opts.rotateRefreshToken ?? false, // HubSpot keeps the refresh token
    accessTokenTtl: opts.accessTokenTtl ?? 1800, // HubSpot: 30 minutes
    omitIss: opts.omitIss ?? false,
  });

  let api: FakeApi;
  try {
    api = await startFakeApi({
      'GET /account-info/v3/details': async (req) => {
        const info = req.token ? await oauth.validateAccessToken(req.token) : null;
        if (!info) {
          return { status: 401, json: { status: 'error', message: 'Authentication credentials not found' } };
        }
        return {
          json: {
            portalId: portalIdFor(info.accountId),
            timeZone: 'Europe/Berlin',
            companyCurrency: 'EUR',
            accountType: 'STANDARD',
            uiDomain: 'app.hubspot.com',
            dataHostingLocation: 'na1',
          },
        };
      },
    }, { validate: async (token) => (await oauth.validateAccessToken(token)) !== null });
  } catch (err) {
    await oauth.close();
    throw err;
  }

  return {
    oauth,
    api,
    clientId,
    clientSecret,
    env: {
      TENEX_HUBSPOT_CLIENT_ID: clientId,
      TENEX_HUBSPOT_CLIENT_SECRET: clientSecret,
      TENEX_HUBSPOT_AUTHORIZATION_URL: oauth.endpoints.authorization_url,
      TENEX_HUBSPOT_TOKEN_URL: oauth.endpoints.token_url,
      TENEX_HUBSPOT_REVOCATION_URL: oauth.endpoints.revocation_url,
      TENEX_HUBSPOT_API_BASE_URL: api.url,
    },
    async close() {
      await Promise.allSettled([api.close(), oauth.close()]);
    },
  };
}
