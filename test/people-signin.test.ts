// Members sign in (issue 16, DESIGN.md "People"): /login and /logout in HTTP mode, in headless
// Chromium and over raw HTTP: accessible self-contained pages, CSRF tokens, session cookies
// (HttpOnly, SameSite=Lax, expiring; Secure and __Host- over https) stored as hashes, the same
// answer for an unknown email and a wrong password, brute-force limits per account and per
// address, a choice of workspace, single sign-on through a second local OpenID Connect server,
// and removal of a member ending their session at once.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/common/ids.js";
import { removeMember } from "../src/store/members.js";
import { safeReturnTo } from "../src/transports/http/cookies.js";
import { SESSION_SECONDS } from "../src/transports/http/signin.js";
import { ACCOUNT_FAILURES, ADDRESS_FAILURES } from "../src/transports/http/signin-limits.js";
import { type OAuthServer, startOAuthServer } from "./sandbox/oauth-server.js";
import { launchChromium, type RecordedContext, recordedContext } from "./support/browser.js";
import { freePort, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { addPasswordMember, getForm, Jar, pageFacts, post, signInRaw } from "./support/pages.js";

const PASSWORD = "alpha member password";

describe("members sign in (HTTP mode)", () => {
  let h: HttpHarness;
  let idp: OAuthServer;
  let browser: Browser;
  let base: string;
  const contexts: RecordedContext[] = [];
  let ann: { id: string };

  const fresh = async () => {
    const rec = await recordedContext(browser);
    contexts.push(rec);
    return { rec, page: await rec.context.newPage() };
  };

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    [idp, browser] = await Promise.all([
      startOAuthServer({
        clients: [{ client_id: "tenex-login", client_secret: "login-secret-0123456789", redirect_uris: [`${base}/login/callback`] }],
        scopes: [],
        idTokenClaims: ["email", "email_verified"],
        accounts: {
          ann: { email: "ann@example.com", email_verified: true },
          stranger: { email: "stranger@example.com", email_verified: true },
          unverified: { email: "ann@example.com", email_verified: false },
        },
      }),
      launchChromium(),
    ]);
    h = await startHttpHarness({
      port,
      publicUrl: true,
      server: { signIn: { oidc: { issuer: idp.issuer, client_id: "tenex-login", client_secret: "login-secret-0123456789" } } },
    });
    ann = await addPasswordMember(h.app.ctx.db, h.a.workspace_id, "Ann@Example.com", PASSWORD);
  });

  afterAll(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await h?.close();
    await idp?.close();
  });

  it("shows an accessible, self-contained sign-in page with a CSRF cookie", async () => {
    const r = await rawRequest(`${base}/login`);
    expect(r.status).toBe(200);
    expect(r.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(r.headers["content-security-policy"]).toContain("form-action 'self'");
    expect(r.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    const csrfCookie = [r.headers["set-cookie"] ?? []].flat().find((c) => c.startsWith("tnx_csrf="));
    expect(csrfCookie).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    // Plain http public URL: no Secure, no __Host- prefix (the https case is below).
    expect(csrfCookie).not.toContain("Secure");

    const { page, rec } = await fresh();
    await page.goto(`${base}/login`);
    const facts = await pageFacts(page);
    expect(facts.lang).toBe("en");
    expect(facts.title).toContain("Sign in");
    expect(facts.h1).toEqual(["Sign in to tenex-connectors"]);
    expect(facts.scripts).toBe(0);
    expect(facts.external).toEqual([]);
    expect(facts.unlabelled).toBe(0);
    expect(facts.text).toContain("Sign in with single sign-on");
    // Keyboard focus is visible: the email field gets an outline when focused.
    await page.focus("#email");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(outline).not.toBe("none");
    expect(rec.requests.every((u) => u.startsWith(base))).toBe(true);
  });

  it("signs a member in with email and password and goes back to return_to; the session cookie is HttpOnly, Lax, expiring, and stored as a hash", async () => {
    const { page, rec } = await fresh();
    await page.goto(`${base}/login?return_to=${encodeURIComponent("/logout?from=test")}`);
    await page.fill("#email", "ann@EXAMPLE.com");
    await page.fill("#password", PASSWORD);
    await Promise.all([page.waitForURL(`${base}/logout?from=test`), page.click("button[type=submit]")]);
    expect(await page.textContent("body")).toContain("You are signed in as Ann@Example.com in the workspace alpha");

    const session = (await rec.context.cookies()).find((c) => c.name === "tnx_session")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false, path: "/" });
    const lifetime = session.expires - Date.now() / 1000;
    expect(lifetime).toBeGreaterThan(SESSION_SECONDS - 120);
    expect(lifetime).toBeLessThanOrEqual(SESSION_SECONDS + 1);
    const rows = await h.app.ctx.db.selectFrom("member_sessions").select("id_hash").where("member_id", "=", ann.id).execute();
    expect(rows.map((x) => x.id_hash)).toContain(sha256Hex(session.value));
    expect(rows.map((x) => x.id_hash)).not.toContain(session.value);
    expect(h.logs.join("\n")).not.toContain(session.value);
    expect(h.logs.join("\n")).not.toContain(PASSWORD);

    // Sign out: the row is gone and the cookie cleared.
    await Promise.all([page.waitForURL(`${base}/logout`), page.click("button[type=submit]")]);
    expect(await page.textContent("h1")).toBe("You are signed out");
    const after = await h.app.ctx.db
      .selectFrom("member_sessions")
      .select("id_hash")
      .where("id_hash", "=", sha256Hex(session.value))
      .execute();
    expect(after).toEqual([]);
    expect((await rec.context.cookies()).find((c) => c.name === "tnx_session")).toBeUndefined();
  });

  it("answers an unknown email and a wrong password alike", async () => {
    const jar = new Jar();
    const wrong = await signInRaw(base, jar, "ann@example.com", "not the password at all");
    const unknown = await signInRaw(base, jar, "nobody@example.com", "not the password at all");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const normal = (body: string) => body.replace(/value="[^"]*"/g, 'value=""');
    expect(normal(unknown.body)).toBe(normal(wrong.body));
    expect(wrong.body).toContain("That email and password do not match a member");
    expect(wrong.body).not.toContain("not the password at all");
  });

  it("refuses a form without this browser's CSRF token, and changes nothing", async () => {
    const jar = new Jar();
    await getForm(`${base}/login`, jar);
    const none = await post(`${base}/login`, jar, { email: "ann@example.com", password: PASSWORD });
    expect(none.status).toBe(403);
    expect(none.body).toContain("This form could not be accepted");
    // A token from another browser (another CSRF cookie) does not fit this one.
    const other = new Jar();
    const { csrf } = await getForm(`${base}/login`, other);
    const foreign = await post(`${base}/login`, jar, { csrf, email: "ann@example.com", password: PASSWORD });
    expect(foreign.status).toBe(403);
    expect(jar.cookies.has("tnx_session")).toBe(false);
    const logout = await post(`${base}/logout`, jar, {});
    expect(logout.status).toBe(403);
  });

  it("returns only to a local path after sign-in (no open redirect)", async () => {
    for (const evil of ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)"]) {
      expect(safeReturnTo(evil), evil).toBe("/login");
    }
    expect(safeReturnTo("/connect/abc?x=1")).toBe("/connect/abc?x=1");
    const jar = new Jar();
    const r = await signInRaw(base, jar, "ann@example.com", PASSWORD, "//evil.example/steal");
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe("/login");
  });

  it("asks which workspace when the email is a member of several", async () => {
    await addPasswordMember(h.app.ctx.db, h.b.workspace_id, "ann@example.com", PASSWORD);
    const { page } = await fresh();
    await page.goto(`${base}/login`);
    await page.fill("#email", "ann@example.com");
    await page.fill("#password", PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForSelector("text=Which workspace?");
    const facts = await pageFacts(page);
    expect(facts.text).toContain("alpha");
    expect(facts.text).toContain("beta");
    expect(facts.unlabelled).toBe(0);
    await page.check("text=beta");
    await Promise.all([page.waitForURL(`${base}/login`), page.click("button[type=submit]")]);
    expect(await page.textContent("body")).toContain("in the workspace beta");
  });

  it("signs in through single sign-on: the member found by verified email; an unknown or unverified email is refused", async () => {
    const sso = async (login: string) => {
      const { page } = await fresh();
      await page.goto(`${base}/login?return_to=/logout`);
      await page.click("text=Sign in with single sign-on");
      await page.fill("input[name=login]", login);
      await page.fill("input[name=password]", "any");
      await page.click("button[type=submit]");
      await page.click("button[type=submit]"); // the issuer's consent
      await page.waitForURL((u) => u.href.startsWith(base) && !u.pathname.startsWith("/login/sso"));
      return page;
    };
    // ann@example.com is in alpha and beta by now: the choice comes after the issuer.
    const ok = await sso("ann");
    await ok.waitForSelector("text=Which workspace?");
    await ok.check("text=alpha");
    await Promise.all([ok.waitForURL(`${base}/logout`), ok.click("button[type=submit]")]);
    expect(await ok.textContent("body")).toContain("in the workspace alpha");

    const stranger = await sso("stranger");
    expect(await stranger.textContent("h1")).toBe("Not a member");
    expect(await stranger.textContent("body")).toContain("stranger@example.com is not a member of any workspace");

    const unverified = await sso("unverified");
    expect(await unverified.textContent("h1")).toBe("Single sign-on failed");
    expect(await unverified.textContent("body")).toContain("has not verified");
  });

  it("ends a member's session at once when the member is removed", async () => {
    const dee = await addPasswordMember(h.app.ctx.db, h.a.workspace_id, "dee@example.com", PASSWORD);
    const jar = new Jar();
    expect((await signInRaw(base, jar, "dee@example.com", PASSWORD)).status).toBe(303);
    expect((await getForm(`${base}/login`, jar)).body).toContain("You are signed in as dee@example.com");
    await removeMember(h.app.ctx.db, dee.id);
    const after = await getForm(`${base}/login`, jar);
    expect(after.body).toContain("Sign in to tenex-connectors");
    expect(after.body).not.toContain("dee@example.com");
  });
});

describe("sign-in limits and https cookies", () => {
  let h: HttpHarness;
  let base: string;

  beforeAll(async () => {
    h = await startHttpHarness({ publicUrl: true });
    base = h.url;
    for (const email of ["locked@example.com", "other@example.com"]) {
      await addPasswordMember(h.app.ctx.db, h.a.workspace_id, email, PASSWORD);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it("locks an account out after repeated failures, even for the right password, and then an address", async () => {
    const jar = new Jar();
    for (let i = 0; i < ACCOUNT_FAILURES; i++)
      expect((await signInRaw(base, jar, "locked@example.com", `wrong guess ${i}`)).status).toBe(401);
    const locked = await signInRaw(base, jar, "locked@example.com", PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
    expect(locked.body).toContain("Too many failed sign-ins");
    expect(jar.cookies.has("tnx_session")).toBe(false);
    // Another account from the same address still signs in.
    expect((await signInRaw(base, jar, "other@example.com", PASSWORD)).status).toBe(303);

    // Failures spread over many emails (known or not) lock the address.
    for (let i = ACCOUNT_FAILURES; i < ADDRESS_FAILURES; i++) await signInRaw(base, jar, `guess${i}@example.com`, "wrong guess");
    const address = await signInRaw(base, new Jar(), "other@example.com", PASSWORD);
    expect(address.status).toBe(429);
  }, 120_000); // twenty-two sign-ins, each running scrypt (32 MiB): slow on a loaded 2-core machine

  it("uses Secure __Host- cookies when the public URL is https", async () => {
    const port = await freePort();
    const secure = await startHttpHarness({ port, env: { TENEX_PUBLIC_URL: "https://connectors.example.com" } });
    try {
      const r = await rawRequest(`${secure.url}/login`, { headers: { host: "connectors.example.com" } });
      expect(r.status).toBe(200);
      const cookie = [r.headers["set-cookie"] ?? []].flat().find((c) => c.startsWith("__Host-tnx_csrf="));
      expect(cookie).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
    } finally {
      await secure.close();
    }
  });
});
