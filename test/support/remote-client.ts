// A remote MCP client's side of OAuth sign-in, for the tests: an OAuthClientProvider that keeps
// everything in memory (the SDK's interface, both generations) and a browser step that signs in
// as a member on our pages and presses Allow or Deny, returning the redirect the client receives.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";

export interface StoredTokens {
  access_token: string;
  token_type: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
}

/** The in-memory OAuthClientProvider a test's SDK client uses (structurally the same for 1.x and 2.x). */
export class MemoryAuthProvider {
  client: Record<string, unknown> | undefined;
  saved: StoredTokens | undefined;
  verifier = "";
  /** The URL the SDK asked to open in the person's browser. */
  authorizationUrl: URL | undefined;

  /**
   * `clientId`: a client id known in advance (a Client ID Metadata Document's URL): the SDK then
   * skips registration and uses it as is; `issuer`: the authorization server it is known to.
   */
  constructor(
    readonly redirectUrl: string,
    readonly name: string,
    opts: { clientId?: string; issuer?: string } = {},
  ) {
    // The 2.x SDK stamps stored client information with the authorization server it belongs to (SEP-2352).
    if (opts.clientId) this.client = { client_id: opts.clientId, ...(opts.issuer ? { issuer: opts.issuer } : {}) };
  }

  get clientMetadata() {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  clientInformation() {
    return this.client as never;
  }

  saveClientInformation(info: Record<string, unknown>): void {
    this.client = info;
  }

  tokens() {
    return this.saved as never;
  }

  saveTokens(tokens: StoredTokens): void {
    this.saved = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  /** Where the SDK found the authorization server: kept so the callback leg is checked against it (SEP-2352). */
  discovery: unknown;

  saveDiscoveryState(state: unknown): void {
    this.discovery = state;
  }

  discoveryState() {
    return this.discovery as never;
  }

  saveCodeVerifier(v: string): void {
    this.verifier = v;
  }

  codeVerifier(): string {
    return this.verifier;
  }
}

/** A Client ID Metadata Document served on loopback (`http://127.0.0.1:{port}/client.json`). */
export async function metadataDocument(
  doc: (clientId: string) => Record<string, unknown>,
): Promise<{ clientId: string; fetches: number; close(): Promise<void> }> {
  let clientId = "";
  const state = { fetches: 0 };
  const server = http.createServer((_req, res) => {
    state.fetches++;
    const body = JSON.stringify(doc(clientId));
    res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=600" });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  clientId = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client.json`;
  return {
    clientId,
    get fetches() {
      return state.fetches;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A loopback "redirect URI" that answers 200, so the browser lands somewhere; the test reads the URL. */
export async function redirectTarget(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("You can close this window.");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * In the browser: open the authorization URL, sign in as the member when our sign-in page shows,
 * then press Allow (or Deny) on the consent page; resolves with the redirect the client received.
 */
export async function approveInBrowser(
  page: Page,
  authorizationUrl: URL,
  opts: { email: string; password: string; redirectPrefix: string; decision?: "allow" | "deny" },
): Promise<URL> {
  await page.goto(authorizationUrl.href);
  if (page.url().includes("/login")) {
    await page.fill("#email", opts.email);
    await page.fill("#password", opts.password);
    await Promise.all([page.waitForURL(/\/consent\//), page.click("button[type=submit]")]);
  }
  await page.waitForSelector("button:has-text('Allow')");
  consentTexts.push((await page.textContent("main")) ?? "");
  const landed = page.waitForURL((u) => u.href.startsWith(opts.redirectPrefix));
  await page.click(opts.decision === "deny" ? "button:has-text('Deny')" : "button:has-text('Allow')");
  await landed;
  return new URL(page.url());
}

/** The text of every consent page approveInBrowser saw, in order. */
export const consentTexts: string[] = [];
