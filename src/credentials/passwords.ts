/**
 * Members' passwords: scrypt from node:crypto (memory-hard, no dependency), stored as a
 * self-describing string `scrypt$N=32768,r=8,p=3$<salt>$<hash>` (base64url), so the parameters
 * can be raised later and old hashes still verify.
 *
 * Parameters: N=2^15, r=8, p=3 is one of OWASP's equivalent scrypt settings (same work as
 * N=2^17, p=1) with a quarter of the memory: 32 MiB per hash (128·N·r bytes), so a burst of
 * sign-ins cannot exhaust a small server's memory while each guess still costs an attacker
 * 32 MiB and tens of milliseconds. The salt is 16 random bytes, the hash 32 bytes.
 *
 * A password never reaches a log line, an error or the database in clear.
 */
import crypto from "node:crypto";

const PARAMS = { N: 2 ** 15, r: 8, p: 3 } as const;
const KEY_LEN = 32;
/** A stored hash may not ask for more than this (a tampered row must not make sign-in allocate gigabytes). */
const MAX_N = 2 ** 20;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

function scrypt(password: string, salt: Buffer, p: { N: number; r: number; p: number }, keyLen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password.normalize("NFC"), salt, keyLen, { ...p, maxmem: 256 * p.N * p.r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Why a password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `A password has at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `A password has at most ${MAX_PASSWORD_LENGTH} characters.`;
  return undefined;
}

/** Hash a password for storage. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, PARAMS, KEY_LEN);
  return `scrypt$N=${PARAMS.N},r=${PARAMS.r},p=${PARAMS.p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): Parsed | undefined {
  const m = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const key = Buffer.from(m[5]!, "base64url");
  if (key.length < 16 || key.length > 64) return undefined;
  return { N, r, p, salt: Buffer.from(m[4]!, "base64url"), key };
}

/** A hash of nothing anyone knows, with the current parameters: verified against when the email is unknown, so both answers cost the same. */
let dummy: Promise<string> | undefined;

/**
 * Check a password against a stored hash in constant time. `stored` undefined or null (unknown
 * email, or a member without a password) still runs scrypt with the current parameters and
 * answers false, so timing does not tell an unknown email from a wrong password.
 */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  dummy ??= hashPassword(crypto.randomBytes(32).toString("base64url"));
  const parsed = parse(stored ?? "") ?? parse(await dummy)!;
  const candidate = await scrypt(password.slice(0, MAX_PASSWORD_LENGTH), parsed.salt, parsed, parsed.key.length);
  const same = crypto.timingSafeEqual(candidate, parsed.key);
  return same && typeof stored === "string" && parse(stored) !== undefined;
}
