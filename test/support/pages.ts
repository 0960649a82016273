// Our browser pages under test (sign-in, the connect page): raw requests with a cookie jar, as a
// browser would send them, and the facts a test reads off a page in Chromium.
import type { Page } from "playwright-core";
import { hashPassword } from "../../src/credentials/passwords.js";
import type { DB } from "../../src/store/db.js";
import { addMember, type MemberInfo } from "../../src/store/members.js";
import { rawRequest } from "./http.js";

/** A tiny cookie jar for raw requests: what a browser would send back. */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(setCookie: string[] | string | undefined): void {
    for (const c of [setCookie ?? []].flat()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

/** GET a page with the jar, keeping its cookies; the form's CSRF token read from the HTML. */
export async function getForm(url: string, jar: Jar): Promise<{ status: number; body: string; csrf: string }> {
  const r = await rawRequest(url, { headers: { cookie: jar.header() } });
  jar.take(r.headers["set-cookie"]);
  const csrf = /name="csrf" value="([^"]+)"/.exec(r.body)?.[1] ?? "";
  return { status: r.status, body: r.body, csrf };
}

export async function post(url: string, jar: Jar, form: Record<string, string>) {
  const r = await rawRequest(url, {
    method: "POST",
    headers: { cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  jar.take(r.headers["set-cookie"]);
  return r;
}

/** Sign in over raw HTTP; returns the final response (a 303 on success). */
export async function signInRaw(base: string, jar: Jar, email: string, password: string, returnTo = "/login") {
  const { csrf } = await getForm(`${base}/login?return_to=${encodeURIComponent(returnTo)}`, jar);
  return post(`${base}/login`, jar, { csrf, email, password, return_to: returnTo });
}

export const pageFacts = (page: Page) =>
  page.evaluate(() => ({
    lang: document.documentElement.lang,
    title: document.title,
    h1: [...document.querySelectorAll("h1")].map((h) => h.textContent?.trim() ?? ""),
    text: document.body.textContent ?? "",
    scripts: document.scripts.length,
    external: [...document.querySelectorAll("[src],link[href]")].map((e) => e.getAttribute("src") ?? e.getAttribute("href")),
    unlabelled: [...document.querySelectorAll("input:not([type=hidden])")].filter((i) => !(i as HTMLInputElement).labels?.length).length,
  }));

/** Add a member who signs in with `password` (hashed as `members add --password-stdin` does). */
export async function addPasswordMember(db: DB, workspaceId: string, email: string, password: string): Promise<MemberInfo> {
  return addMember(db, { workspace_id: workspaceId, email, password_hash: await hashPassword(password), now: new Date().toISOString() });
}
