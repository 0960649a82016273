// Our result pages: readable (WCAG AA contrast in light and dark mode), structured (lang,
// title, one h1, what to do next), self-contained, and safe with any label a client sends.
import { describe, expect, it } from "vitest";
import type { ConnectorObject } from "../src/store/connectors.js";
import { PALETTE, renderPage } from "../src/transports/callback/html.js";
import { callbackPage } from "../src/transports/callback/page.js";

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5]
    .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

const connector = (label: string) => ({ label }) as ConnectorObject;

describe("result pages", () => {
  it("keeps every text colour at WCAG AA contrast (4.5:1) on its card, in light and dark mode", () => {
    for (const [scheme, p] of Object.entries(PALETTE)) {
      const colours = { text: p.text, muted: p.muted, ...p.accent };
      for (const [name, colour] of Object.entries(colours)) {
        expect(contrast(colour, p.card), `${scheme} ${name} on card`).toBeGreaterThanOrEqual(4.5);
      }
      expect(contrast(p.text, p.page), `${scheme} text on page`).toBeGreaterThanOrEqual(4.5);
    }
  });

  it("has a language, a title, exactly one h1, what to do next, and nothing loaded from elsewhere", () => {
    const pages = [
      callbackPage({ kind: "connected", provider: "Gmail", account_label: "alice@example.com", connector: connector("Gmail") }),
      callbackPage({ kind: "denied", provider: "Gmail" }),
      callbackPage({ kind: "failed", provider: "Gmail", reason: "Gmail refused the authorization (server_error)." }),
      callbackPage({
        kind: "refused",
        code: "state_expired",
        reason: "This Gmail sign-in link expired (links last 10 minutes).",
        provider: "Gmail",
      }),
      callbackPage({ kind: "refused", code: "invalid_state", reason: "This sign-in link was already used." }),
      callbackPage({ kind: "cancelled", provider: "Gmail", provider_revocation: "revoked" }),
      callbackPage({ kind: "cancelled", provider: "Gmail", provider_revocation: "not_offered" }),
    ];
    for (const { html } of pages) {
      expect(html).toMatch(/<html lang="en">/);
      expect(html).toMatch(/<title>[^<]+<\/title>/);
      expect(html.match(/<h1>/g)).toHaveLength(1);
      expect(html).toContain("What to do next");
      expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
      expect(html).not.toMatch(/(src|href)=|url\(|@import/i);
    }
    expect(pages.map((p) => p.status)).toEqual([200, 200, 502, 400, 400, 409, 409]);
    expect(pages[5]!.html).toContain("revoked at Gmail again");
    expect(pages[6]!.html).toContain("could not be revoked automatically");
    expect(pages[0]!.html).toContain("<h1>Connected Gmail as alice@example.com</h1>");
    expect(pages[0]!.html).toContain("<dd>alice@example.com</dd>");
    expect(pages[3]!.html).toContain("This Gmail sign-in link has expired");
  });

  it("escapes labels and account names, so a label cannot inject markup", () => {
    const { html } = callbackPage({
      kind: "connected",
      provider: "HubSpot",
      account_label: `<img src=x onerror=alert(1)>`,
      connector: connector(`"><script>alert(1)</script>`),
    });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("renders a page without facts or next steps too (the callback listener's 404)", () => {
    const html = renderPage({
      tone: "error",
      title: "Not found",
      heading: "Not found",
      paragraphs: ["This address serves only OAuth callbacks."],
    });
    expect(html).toContain("<h1>Not found</h1>");
    expect(html).not.toContain("<dl>");
    expect(html).not.toContain("What to do next");
  });
});
