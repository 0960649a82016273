import type { AccountFacts, ConnectionView, Provider } from "./catalog.js";
import type { Context } from "./context.js";
import { ConnectorError } from "./errors.js";
import { callProviderApi, testReadPath } from "./provider-api.js";

export interface AccountCheck {
  ok: boolean;
  status: number | null;
  latency_ms: number;
  account: AccountFacts;
  error?: string;
}

const REASON_FIELDS = ["message", "error_description", "error_message", "detail", "description", "msg", "error", "title"];

function pickReason(body: unknown, depth = 0): string | null {
  if (depth > 2 || body === null || typeof body !== "object") return null;
  if (Array.isArray(body)) return pickReason(body[0], depth + 1);
  const b = body as Record<string, unknown>;
  for (const k of REASON_FIELDS) {
    const v = b[k];
    if (typeof v === "string" && v.trim() !== "") return v;
  }
  for (const k of ["error", "errors"]) {
    const nested = pickReason(b[k], depth + 1);
    if (nested) return nested;
  }
  return null;
}

/**
 * The provider's own short reason for refusing a call, made safe to show: the credential and
 * anything token-shaped are removed, only printable text is kept, and it is cut to a sentence.
 * Raw provider bodies never reach the model; this one trimmed phrase may.
 */
export function providerReason(body: unknown, credential?: string): string | null {
  let text = pickReason(body);
  if (!text) return null;
  if (credential && credential.length >= 4) text = text.split(credential).join("[redacted]");
  text = text
    .replace(/[^\x20-\x7E]+/g, " ")
    .replace(/[A-Za-z0-9_\-+/=.]{32,}/g, "[redacted]")
    .replace(/[<>`{}\\]/g, "")
    .replace(/\s+/g, " ")
    .trim();
  if (text === "") return null;
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Run the provider's lightest authenticated read and extract non-secret account facts. */
export async function readAccount(
  ctx: Pick<Context, "fetch" | "clock" | "log">,
  provider: Provider,
  view: ConnectionView,
  credential: string,
  authType: "oauth2" | "api_key",
): Promise<AccountCheck> {
  const t = provider.def.test;
  try {
    const res = await callProviderApi(ctx, provider, view, credential, { method: t.method, path: testReadPath(provider, view, authType), body: t.body });
    if (!res.ok) {
      const reason = providerReason(res.body, credential);
      const said = reason ? `: "${reason}"` : "";
      const why =
        res.status === 401
          ? `the credential was rejected (401${said})`
          : res.status === 403
            ? `access was refused (403${said}): check scopes or permissions`
            : `${provider.def.name} answered ${res.status}${said}`;
      return { ok: false, status: res.status, latency_ms: res.latency_ms, account: {}, error: why };
    }
    return { ok: true, status: res.status, latency_ms: res.latency_ms, account: provider.def.hooks.accountFromTestRead(res.body, view) };
  } catch (err) {
    if (err instanceof ConnectorError) return { ok: false, status: null, latency_ms: 0, account: {}, error: err.message };
    ctx.log.warn("test read failed", { provider: provider.id, error: err });
    return { ok: false, status: null, latency_ms: 0, account: {}, error: "the test read failed unexpectedly" };
  }
}
