import type { ConnectionView, Provider, TokenSet } from "./catalog.js";

/** What a provider hook or API call may know about one connection: its settings, token extras and the provider's environment. */
export function connectionView(provider: Provider, row: { settings: Record<string, unknown> }, tokens?: TokenSet): ConnectionView {
  return { settings: row.settings, token_extras: tokens?.extras ?? {}, env: provider.env };
}
