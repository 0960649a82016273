/**
 * Who holds the stdio callback port, proven: a sibling is a process that shares this database and
 * its master key, and so the per-database sibling key (stored sealed in the database). The asker
 * sends a random nonce; the holder answers with an HMAC of it, the port and a fixed purpose under
 * that key. A header any program can send (the database tag) is a hint for the log, never proof.
 */
import crypto from "node:crypto";
import type http from "node:http";

/** Asked with a GET carrying CHALLENGE_HEADER; the answer carries PROOF_HEADER. */
export const SIBLING_PATH = "/.tenex-connectors/sibling";
const CHALLENGE_HEADER = "x-tenex-sibling-challenge";
const PROOF_HEADER = "x-tenex-sibling-proof";
/** A hint only: the tag of the holder's database, for telling "another database" apart in the log. */
export const MARKER_HEADER = "x-tenex-connectors";

/** Who holds a callback port we could not bind. */
export type Holder =
  | { kind: "sibling" }
  | { kind: "other_database" }
  | { kind: "unproven" }
  | { kind: "other"; server?: string }
  | { kind: "silent" };

function proof(key: Buffer, nonce: string, port: number): string {
  return crypto.createHmac("sha256", key).update(`tenex-connectors callback sibling\n${port}\n${nonce}`).digest("base64url");
}

/** The holder's side: answer a challenge on the port it holds (404 without a well-formed one). */
export function answerChallenge(req: http.IncomingMessage, res: http.ServerResponse, key: Buffer, port: number): void {
  const nonce = req.headers[CHALLENGE_HEADER];
  if (typeof nonce !== "string" || !/^[A-Za-z0-9_-]{32,128}$/.test(nonce)) {
    res.writeHead(404, { "cache-control": "no-store" }).end();
    return;
  }
  res.writeHead(204, { "cache-control": "no-store", [PROOF_HEADER]: proof(key, nonce, port) }).end();
}

function sameProof(got: string | null, want: string): boolean {
  if (!got) return false;
  const a = Buffer.from(got);
  const b = Buffer.from(want);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The asker's side: challenge whoever holds host:port, and say who it is. */
export async function describeHolder(host: string, port: number, key: Buffer, tag: string): Promise<Holder> {
  const nonce = crypto.randomBytes(32).toString("base64url");
  try {
    const r = await fetch(`http://${host.includes(":") ? `[${host}]` : host}:${port}${SIBLING_PATH}`, {
      headers: { [CHALLENGE_HEADER]: nonce },
      redirect: "manual",
      signal: AbortSignal.timeout(1000),
    });
    await r.body?.cancel();
    if (sameProof(r.headers.get(PROOF_HEADER), proof(key, nonce, port))) return { kind: "sibling" };
    const marker = r.headers.get(MARKER_HEADER);
    // Claiming our database without the proof: a program pretending to be a sibling.
    if (marker === tag || marker === "1") return { kind: "unproven" };
    if (marker) return { kind: "other_database" };
    const server = r.headers
      .get("server")
      ?.replace(/[^\x20-\x7e]/g, "")
      .slice(0, 60);
    return server ? { kind: "other", server } : { kind: "other" };
  } catch {
    return { kind: "silent" };
  }
}

/** The stdio listener answers only loopback names (and the host it was told to bind). */
export function hostAllowed(hostHeader: string | undefined, bindHost: string): boolean {
  if (!hostHeader) return false;
  const name = hostHeader
    .replace(/:\d{1,5}$/, "")
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  return ["127.0.0.1", "localhost", "::1", bindHost.toLowerCase()].includes(name);
}
