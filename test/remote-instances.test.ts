// Remote sign-in across instances (issue 17: "signing and cookie keys sealed in the database and
// shared by every instance"): two built `serve --http` processes on one database behind one public
// URL, neither given any key. A client registers on one, the person's authorization starts on
// one, the sign-in and the consent page are served by the other (its cookies were signed by the
// first), the authorization resumes on the first, the code is exchanged on the second, and the
// token works on both.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseEnv } from "./support/database.js";
import { freePort, rawRequest, tempDir } from "./support/http.js";
import { authorizeUrl, registerClient } from "./support/oauth-requests.js";
import { getForm, Jar, post, signInRaw } from "./support/pages.js";
import { CLI, type HttpInstance, ROOT, startHttpInstance, waitForOutput } from "./support/stdio.js";

const PASSWORD = "a member's long password";
const REDIRECT = "http://127.0.0.1:9/callback";

describe("remote sign-in across two instances on one database", () => {
  let a: HttpInstance;
  let b: HttpInstance;
  let publicUrl: string;

  beforeAll(async () => {
    const dir = tempDir("tenex-remote-two-");
    const [portA, portB] = [await freePort(), await freePort()];
    // One public URL, as behind a load balancer: the issuer and the resource are the same on both.
    publicUrl = `http://127.0.0.1:${portA}`;
    const env = { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir), TENEX_PUBLIC_URL: publicUrl, TENEX_ALLOWED_HOSTS: "127.0.0.1" };
    const run = (args: string[], input?: string) =>
      spawnSync(process.execPath, [CLI, ...args], { env, cwd: ROOT, encoding: "utf8", input });
    expect(run(["workspaces", "create", "acme"]).status).toBe(0);
    expect(run(["members", "add", "--workspace", "acme", "--email", "ann@acme.example", "--password-stdin"], `${PASSWORD}\n`).status).toBe(
      0,
    );
    a = startHttpInstance(portA, env);
    b = startHttpInstance(portB, env);
    await Promise.all([a, b].map((i) => waitForOutput(i.child, i.child.stderr!, i.stderr, "ready on http")));
  }, 120_000);
  afterAll(async () => {
    for (const i of [a, b]) i?.child.kill("SIGTERM");
    await Promise.all([a, b].map((i) => i?.exited));
  });

  it("registers on A, authorizes on A, signs in and consents on B, resumes on A, exchanges on B; the token works on both", async () => {
    const registered = await registerClient(a.url, [REDIRECT], { client_name: "Two-Instance Client" });
    expect(registered.status).toBe(201);
    const clientId = registered.json().client_id as string;
    const verifier = crypto.randomBytes(32).toString("base64url");
    const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
    const jar = new Jar();

    // A starts the authorization: its interaction cookie is signed with the key kept in the database.
    const start = await rawRequest(authorizeUrl(publicUrl, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge }), {
      headers: { cookie: jar.header() },
    });
    jar.take(start.headers["set-cookie"]);
    expect(start.status).toBe(303);
    const consentPath = new URL(String(start.headers.location), publicUrl).pathname;
    expect(consentPath).toMatch(/^\/consent\//);

    // B serves the sign-in and the consent page (cookies are per host, not per port: the browser sends A's to B).
    expect((await signInRaw(b.url, jar, "ann@acme.example", PASSWORD, consentPath)).status).toBe(303);
    const page = await getForm(`${b.url}${consentPath}`, jar);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Two-Instance Client");
    const allowed = await post(`${b.url}${consentPath}`, jar, { csrf: page.csrf, decision: "allow" });
    expect(allowed.status).toBe(303);

    // A resumes the authorization B finished and sends the browser back to the client with a code and iss.
    const resume = await rawRequest(new URL(String(allowed.headers.location), a.url).href, { headers: { cookie: jar.header() } });
    expect(resume.status).toBe(303);
    const back = new URL(String(resume.headers.location));
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get("iss")).toBe(publicUrl);
    const code = back.searchParams.get("code");
    expect(code).toBeTruthy();

    // B exchanges the code A issued.
    const token = await rawRequest(`${b.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: code!,
        redirect_uri: REDIRECT,
        client_id: clientId,
        code_verifier: verifier,
      }).toString(),
    });
    expect(token.status).toBe(200);
    const access = token.json().access_token as string;
    for (const i of [a, b]) {
      const res = await rawRequest(`${i.url}/api/v1/connectors`, { headers: { authorization: `Bearer ${access}` } });
      expect(res.status, i.url).toBe(200);
    }
    expect(a.stderr() + b.stderr()).not.toContain(access);
  });
});
