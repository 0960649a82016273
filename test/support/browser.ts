// Headless Chromium (Debian's /usr/bin/chromium) through playwright-core, with a fresh profile
// per launch and every request to a non-loopback host blocked and recorded: the sandbox's
// pages load a web font from the internet, and our pages must load nothing from anywhere.
import fs from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { ROOT } from "./stdio.js";

export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = path.join(ROOT, "test-artifacts");

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function isLoopbackUrl(url: string): boolean {
  try {
    const u = new URL(url);
    if (u.protocol === "data:" || u.protocol === "about:") return true;
    return u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
  } catch {
    return false;
  }
}

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium); .ci/run does this on CI`);
  }
  // launch() starts from a fresh temporary profile each time.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

export interface RecordedContext {
  context: BrowserContext;
  /** Every request the pages made, in order (blocked ones included). */
  requests: string[];
  /** Requests to non-loopback hosts, which were aborted. */
  blocked: string[];
}

/** A fresh browser context (no cookies) that records requests and blocks the internet. */
export async function recordedContext(browser: Browser): Promise<RecordedContext> {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 }, locale: "en-US", colorScheme: "light" });
  const requests: string[] = [];
  const blocked: string[] = [];
  context.on("request", (r) => requests.push(r.url()));
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    if (isLoopbackUrl(url)) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  return { context, requests, blocked };
}

export function artifactPath(name: string): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
