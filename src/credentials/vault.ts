import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type FileTrust, openTrusted } from "../common/files.js";

/**
 * AES-256-GCM envelope: `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts). The key id
 * names which master key sealed it (rotation); the associated data binds it to one row, so a
 * ciphertext copied to another row does not open.
 */
export class Vault {
  private readonly current: { id: string; key: Buffer };
  private readonly keys: Map<string, Buffer>;

  constructor(currentKey: Buffer, previousKeys: Buffer[] = []) {
    for (const k of [currentKey, ...previousKeys]) {
      if (k.length !== 32) throw new Error("a master key must be 32 bytes");
    }
    this.current = { id: keyId(currentKey), key: currentKey };
    this.keys = new Map([currentKey, ...previousKeys].map((k) => [keyId(k), k]));
  }

  get keyId(): string {
    return this.current.id;
  }

  seal(plaintext: string, aad: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.current.key, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ["v1", this.current.id, b64(iv), b64(tag), b64(ct)].join(".");
  }

  /** Throws VaultError when the envelope is malformed, sealed by an unknown key, tampered with, or bound to another row. */
  open(envelope: string, aad: string): string {
    const parts = envelope.split(".");
    if (parts.length !== 5 || parts[0] !== "v1") throw new VaultError("malformed ciphertext");
    const [, kid, ivS, tagS, ctS] = parts as [string, string, string, string, string];
    const key = this.keys.get(kid);
    if (!key) throw new VaultError("ciphertext was sealed with a master key this server does not have");
    try {
      const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(ivS, "base64url"));
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(Buffer.from(tagS, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ctS, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      throw new VaultError("ciphertext failed authentication (tampered, wrong key, or moved from another row)");
    }
  }
}

export class VaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VaultError";
  }
}

function b64(b: Buffer): string {
  return b.toString("base64url");
}

function keyId(key: Buffer): string {
  return crypto.createHash("sha256").update("tenex-vault-key-id").update(key).digest("hex").slice(0, 12);
}

export function parseMasterKey(b64key: string, what = "TENEX_MASTER_KEY"): Buffer {
  const key = Buffer.from(b64key.trim(), "base64");
  if (key.length !== 32) throw new Error(`${what} must be 32 bytes encoded as base64 (got ${key.length} bytes)`);
  return key;
}

/**
 * The master key from the environment, or the one generated once into `<dataDir>/master.key`
 * (mode 0600). Creation is exclusive (O_EXCL), so two processes starting together agree on one
 * key, and a file that already exists is used only when this user owns it and no one else may
 * write it (common/files.ts): a key planted in a shared directory is refused, not used.
 */
export function loadOrCreateMasterKey(opts: { masterKey?: string | undefined; dataDir: string; allowGroupWritable?: boolean }): Buffer {
  if (opts.masterKey) return parseMasterKey(opts.masterKey);
  const file = path.join(opts.dataDir, "master.key");
  fs.mkdirSync(opts.dataDir, { recursive: true });
  try {
    const fd = fs.openSync(file, "wx", 0o600);
    try {
      fs.writeSync(fd, crypto.randomBytes(32).toString("base64") + "\n");
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  for (let attempt = 0; ; attempt++) {
    const text = readTrustedKeyFile(file, { allowGroupWritable: opts.allowGroupWritable ?? false });
    // Another process may have created the file a moment ago and not written it yet.
    if (text.trim() === "" && attempt < 50) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      continue;
    }
    return parseMasterKey(text, file);
  }
}

/** The key file's text, read through a descriptor checked to be ours (and made owner-only if it was readable by others). */
function readTrustedKeyFile(file: string, trust: FileTrust): string {
  const fd = openTrusted(file, "master key file", trust);
  if (fd === null) throw new Error(`The master key file ${file} disappeared while the server was starting; start it again.`);
  try {
    if ((fs.fstatSync(fd).mode & 0o077) !== 0) fs.fchmodSync(fd, 0o600);
    return fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
}
