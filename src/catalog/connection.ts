import type { ConnectionView, Provider, TokenSet } from "./catalog.js";

/** What a provider hook or API call may know about one connection: its settings, token extras and the provider's environment. */
export function connectionView(provider: Provider, row: { settings: string }, tokens?: TokenSet): ConnectionView {
  let settings: Record<string, unknown> = {};
  try {
    settings = JSON.parse(row.settings) as Record<string, unknown>;
  } catch {
    settings = {};
  }
  return { settings, token_extras: tokens?.extras ?? {}, env: provider.env };
}
