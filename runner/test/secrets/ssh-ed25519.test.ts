/**
 * age's ssh-ed25519 recipient type against sops's own vector (../shared/vectors,
 * relative to the project root; skipped when absent) and the real `age` CLI.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as age from "age-encryption";
import { describe, expect, it } from "vitest";
import { parseIdentityFile } from "../../src/secrets/identities.js";
import { decryptSops, encryptSops, parseSopsText } from "../../src/secrets/sops-file.js";
import { parseSshEd25519Identity } from "../../src/secrets/ssh-ed25519.js";
import { HAVE_AGE, HAVE_VECTORS, VECTORS } from "../helpers/opsc-cli.js";

const X = join(VECTORS, "getsops__sops/age/extracted");

describe.skipIf(!HAVE_VECTORS)("ssh-ed25519 identities and recipients", () => {
  it("decrypts sops's mockEncryptedSshKey with mockSshIdentity", async () => {
    const d = new age.Decrypter();
    d.addIdentity(
      parseSshEd25519Identity(readFileSync(join(X, "mockSshIdentity"), "utf8"), "mockSshIdentity"),
    );
    const out = await d.decrypt(
      age.armor.decode(readFileSync(join(X, "mockEncryptedSshKey.age.asc"), "utf8")),
      "text",
    );
    expect(out).toBe("data");
  });

  it("a file written for an ssh-ed25519 recipient opens with the key, and its data key with `age -d`", async () => {
    const recipient = readFileSync(join(X, "mockSshRecipient.pub"), "utf8").trim();
    const text = await encryptSops(parseSopsText("a: b\n", "yaml"), "yaml", { recipients: [recipient] });
    expect(text).toContain("version: 3.10.0");
    const ids = parseIdentityFile(readFileSync(join(X, "mockSshIdentity"), "utf8"), "mockSshIdentity");
    const doc = await decryptSops(text, "yaml", ids);
    expect(doc.branches[0]?.get("a")).toBe("b");
    if (HAVE_AGE) {
      const dir = mkdtempSync(join(tmpdir(), "opsc-ssh-"));
      writeFileSync(join(dir, "enc"), doc.metadata.age[0]?.enc ?? "");
      const r = spawnSync("age", ["-d", "-i", join(X, "mockSshIdentity"), join(dir, "enc")]);
      expect(r.status).toBe(0);
      expect(Buffer.from(r.stdout).equals(Buffer.from(doc.dataKey))).toBe(true);
    }
  });

  it("refuses a passphrase-protected or non-OpenSSH key without echoing it", () => {
    expect(() => parseSshEd25519Identity("not a key", "k")).toThrow(
      "k cannot be used as an age identity: it is not an OpenSSH private key",
    );
  });
});
