import { ConnectorError } from "../common/errors.js";
import { callProviderApi, testReadPath } from "./api.js";
import type { AccountFacts, CatalogDeps, ConnectionView, Provider } from "./catalog.js";
import { apiErrorSummary } from "./provider-errors.js";
import { scrubFacts } from "./scrub.js";

export interface AccountCheck {
  ok: boolean;
  status: number | null;
  latency_ms: number;
  account: AccountFacts;
  error?: string;
}

/** Run the provider's lightest authenticated read and extract non-secret account facts. */
export async function readAccount(
  ctx: Pick<CatalogDeps, "fetch" | "clock" | "log">,
  provider: Provider,
  view: ConnectionView,
  credential: string,
  authType: "oauth2" | "api_key",
): Promise<AccountCheck> {
  const t = provider.def.test;
  try {
    const res = await callProviderApi(ctx, provider, view, credential, {
      method: t.method,
      path: testReadPath(provider, view, authType),
      body: t.body,
    });
    if (!res.ok) {
      // The status and at most a short error code: provider free text never reaches the model.
      const said = apiErrorSummary(res.status, res.body, credential);
      const why =
        res.status === 401
          ? `the credential was rejected (${said})`
          : res.status === 403
            ? `access was refused (${said}): check scopes or permissions`
            : `${provider.def.name} answered ${said}`;
      return { ok: false, status: res.status, latency_ms: res.latency_ms, account: {}, error: why };
    }
    // A provider that echoes the request must not turn the credential into an "account fact".
    const account = scrubFacts(provider.def.hooks.accountFromTestRead(res.body, view), provider.def.test.account_fields, [
      credential,
      provider.oauth?.client_secret,
    ]);
    return { ok: true, status: res.status, latency_ms: res.latency_ms, account };
  } catch (err) {
    if (err instanceof ConnectorError) return { ok: false, status: null, latency_ms: 0, account: {}, error: err.message };
    ctx.log.warn("test read failed", { provider: provider.id, error: err });
    return { ok: false, status: null, latency_ms: 0, account: {}, error: "the test read failed unexpectedly" };
  }
}
