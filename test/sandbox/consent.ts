// Drives oidc-provider's dev-interaction login and consent pages over plain HTTP, the way a
// user's browser would, and returns the final redirect to the client (without requesting it).
// When the URL is our connect page (`/connect/{id}`), it first does what a browser does there:
// GET the page, POST "Continue" with the form's CSRF token and the page's cookies, and follow the
// 303 to the provider; the browser binding cookie set then is returned as `cookie`, for the
// request to the callback (`fetch(callbackUrl, { headers: { cookie } })`).

export interface ConsentOptions {
  /** login name typed on the dev login page; it becomes the accountId */
  login: string;
  /** press "[ Cancel ]" on the consent page (after logging in): yields error=access_denied */
  deny?: boolean;
  /** stop at the first redirect whose Location starts with this (the client's redirect_uri) */
  redirectPrefix: string;
}

const MAX_STEPS = 25;

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, "i").exec(tag);
  if (!m) return undefined;
  return decodeEntities(m[1] ?? m[2] ?? m[3] ?? "");
}

interface ParsedForm {
  action: string;
  method: string;
  inputs: Array<{ name: string; type: string; value: string }>;
}

function parseForm(html: string): ParsedForm | undefined {
  const m = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!m) return undefined;
  const openTag = `<form ${m[1]}>`;
  const inputs: ParsedForm["inputs"] = [];
  for (const im of m[2]!.matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(im[0], "name");
    if (!name) continue;
    inputs.push({ name, type: (attr(im[0], "type") ?? "text").toLowerCase(), value: attr(im[0], "value") ?? "" });
  }
  return {
    action: attr(openTag, "action") ?? "",
    method: (attr(openTag, "method") ?? "get").toUpperCase(),
    inputs,
  };
}

function findCancelLink(html: string): string | undefined {
  for (const m of html.matchAll(/<a\b[^>]*>/gi)) {
    const href = attr(m[0], "href");
    if (href && /\/interaction\/[^/]+\/abort(?:$|[?#])/.test(href)) return href;
  }
  return undefined;
}

class CookieJar {
  private cookies = new Map<string, string>();

  store(res: Response): void {
    const list: string[] =
      typeof (res.headers as any).getSetCookie === "function"
        ? (res.headers as any).getSetCookie()
        : res.headers.get("set-cookie")
          ? [res.headers.get("set-cookie")!]
          : [];
    for (const line of list) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.split("=").map((x) => x.trim());
        if (k?.toLowerCase() === "max-age") return Number(v) <= 0;
        if (k?.toLowerCase() === "expires") return Date.parse(v ?? "") <= Date.now();
        return false;
      });
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

function describe(step: string, status: number, body: string): string {
  return `consentOverHttp: ${step} (HTTP ${status}): ${body.slice(0, 300)}`;
}

/** Our connect page's path. */
export const CONNECT_PAGE = /\/connect\/[A-Za-z0-9_-]{43}$/;

/**
 * What a browser does on our connect page: GET it, POST "Continue" with its CSRF token and
 * cookies; returns the provider URL it redirects to and the cookies our server set (the CSRF
 * cookie and the browser binding), as a Cookie header.
 */
export async function continueOnConnectPage(
  connectUrl: string,
  opts: { cookie?: string } = {},
): Promise<{ providerUrl: string; cookie: string }> {
  const jar = new CookieJar();
  const withCookies = () => [opts.cookie, jar.header()].filter(Boolean).join("; ");
  const page = await fetch(connectUrl, { headers: { accept: "text/html", cookie: withCookies() }, redirect: "manual" });
  jar.store(page);
  const html = await page.text();
  if (page.status !== 200)
    throw new Error(
      describe(`the connect page did not offer Continue (${page.headers.get("location") ?? "no redirect"})`, page.status, html),
    );
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(describe("no CSRF token on the connect page", page.status, html));
  const res = await fetch(connectUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: withCookies(), origin: new URL(connectUrl).origin },
    body: new URLSearchParams({ csrf: decodeEntities(csrf), action: "continue" }),
    redirect: "manual",
  });
  jar.store(res);
  const location = res.headers.get("location");
  await res.body?.cancel();
  if (res.status !== 303 || !location) throw new Error(describe("Continue on the connect page did not redirect", res.status, ""));
  return { providerUrl: new URL(location, connectUrl).href, cookie: jar.header() ?? "" };
}

export async function consentOverHttp(authorizationUrl: string, opts: ConsentOptions): Promise<{ callbackUrl: string; cookie: string }> {
  const jar = new CookieJar();
  let url = authorizationUrl;
  let cookieForCallback = "";
  if (CONNECT_PAGE.test(new URL(url).pathname)) {
    const continued = await continueOnConnectPage(url);
    url = continued.providerUrl;
    cookieForCallback = continued.cookie;
  }
  let method = "GET";
  let body: URLSearchParams | undefined;
  let loggedIn = false;
  const visited: string[] = [];

  for (let step = 0; step < MAX_STEPS; step++) {
    visited.push(`${method} ${url}`);
    const headers: Record<string, string> = { accept: "text/html" };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    if (body) headers["content-type"] = "application/x-www-form-urlencoded";

    const res = await fetch(url, { method, headers, body, redirect: "manual" });
    jar.store(res);

    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get("location");
      if (!location) throw new Error(describe(`redirect without Location from ${url}`, res.status, ""));
      const next = new URL(location, url).href;
      await res.body?.cancel();
      if (next.startsWith(opts.redirectPrefix)) return { callbackUrl: next, cookie: cookieForCallback };
      url = next;
      method = "GET";
      body = undefined;
      continue;
    }

    const text = await res.text();
    if (res.status !== 200) {
      throw new Error(describe(`unexpected response from ${method} ${url}`, res.status, text));
    }

    const form = parseForm(text);
    if (!form) throw new Error(describe(`no form on page ${url}`, res.status, text));
    const prompt = form.inputs.find((i) => i.name === "prompt")?.value;
    const isLogin = prompt === "login" || form.inputs.some((i) => i.name === "login");

    if (!isLogin && opts.deny) {
      const cancel = findCancelLink(text);
      if (!cancel) throw new Error(describe(`no [ Cancel ] (abort) link on consent page ${url}`, res.status, text));
      url = new URL(cancel, url).href;
      method = "GET";
      body = undefined;
      continue;
    }

    if (isLogin && loggedIn) {
      throw new Error(describe(`login page shown again after logging in as ${opts.login}`, res.status, text));
    }
    if (!isLogin && prompt !== "consent") {
      throw new Error(describe(`unrecognised interaction page (prompt=${prompt}) at ${url}`, res.status, text));
    }

    const fields = new URLSearchParams();
    for (const input of form.inputs) {
      if (input.name === "login") fields.set("login", opts.login);
      else if (input.name === "password") fields.set("password", "sandbox-password");
      else if (input.type === "checkbox" || input.type === "radio") continue;
      else fields.append(input.name, input.value);
    }
    if (isLogin) {
      if (!fields.has("login")) fields.set("login", opts.login);
      if (!fields.has("password")) fields.set("password", "sandbox-password");
      loggedIn = true;
    }
    url = new URL(form.action || url, url).href;
    method = form.method === "GET" ? "GET" : "POST";
    if (method === "GET") {
      const u = new URL(url);
      for (const [k, v] of fields) u.searchParams.append(k, v);
      url = u.href;
      body = undefined;
    } else {
      body = fields;
    }
  }

  throw new Error(`consentOverHttp: no redirect to ${opts.redirectPrefix} after ${MAX_STEPS} steps:\n  ${visited.join("\n  ")}`);
}
