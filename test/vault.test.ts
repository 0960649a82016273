import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadOrCreateMasterKey, parseMasterKey, Vault, VaultError } from "../src/credentials/vault.js";
import { tempDir } from "./support/stdio.js";

const key = () => crypto.randomBytes(32);

describe("vault", () => {
  it("round-trips and binds each ciphertext to its row", () => {
    const v = new Vault(key());
    const sealed = v.seal("refresh-token-value", "connector_secrets:con_a");
    expect(sealed).not.toContain("refresh-token-value");
    expect(sealed.split(".")[1]).toBe(v.keyId);
    expect(v.open(sealed, "connector_secrets:con_a")).toBe("refresh-token-value");
  });

  it("refuses a ciphertext moved to another row", () => {
    const v = new Vault(key());
    const sealed = v.seal("secret", "connector_secrets:con_a");
    expect(() => v.open(sealed, "connector_secrets:con_b")).toThrow(VaultError);
  });

  it("refuses a tampered ciphertext, tag or iv", () => {
    const v = new Vault(key());
    const sealed = v.seal("a secret worth stealing", "row");
    const parts = sealed.split(".");
    for (const i of [2, 3, 4]) {
      const bytes = Buffer.from(parts[i]!, "base64url");
      bytes[0] = bytes[0]! ^ 0x01;
      const tampered = [...parts];
      tampered[i] = bytes.toString("base64url");
      expect(() => v.open(tampered.join("."), "row"), `part ${i}`).toThrow(VaultError);
    }
    expect(() => v.open("v1.garbage", "row")).toThrow(/malformed/);
  });

  it("refuses the wrong key, and opens old ciphertexts with a previous key after rotation", () => {
    const oldKey = key();
    const sealed = new Vault(oldKey).seal("secret", "row");
    expect(() => new Vault(key()).open(sealed, "row")).toThrow(/does not have/);
    // A forged key id pointing at the current key still fails authentication.
    const other = new Vault(key());
    const forged = sealed.split(".");
    forged[1] = other.keyId;
    expect(() => other.open(forged.join("."), "row")).toThrow(/failed authentication/);
    const rotated = new Vault(key(), [oldKey]);
    expect(rotated.open(sealed, "row")).toBe("secret");
    // The envelope names the key that sealed it: the old one here, the current one for new seals.
    expect(sealed.split(".")[1]).not.toBe(rotated.keyId);
    expect(rotated.seal("x", "row").split(".")[1]).toBe(rotated.keyId);
  });

  it("generates the master key once, mode 0600, and reuses it", () => {
    const dir = tempDir();
    const a = loadOrCreateMasterKey({ dataDir: dir });
    const b = loadOrCreateMasterKey({ dataDir: dir });
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(32);
    expect(fs.statSync(path.join(dir, "master.key")).mode & 0o777).toBe(0o600);
  });

  it("takes TENEX_MASTER_KEY as 32 bytes of base64 and refuses anything else", () => {
    const k = key();
    expect(loadOrCreateMasterKey({ masterKey: k.toString("base64"), dataDir: tempDir() }).equals(k)).toBe(true);
    expect(() => parseMasterKey(crypto.randomBytes(16).toString("base64"))).toThrow(/32 bytes/);
  });
});
