/** A tampered file is refused with its own code, a message saying what to do, and no plaintext. */
import * as age from "age-encryption";
import { beforeAll, describe, expect, it } from "vitest";
import { opscFailure } from "../helpers/opsc-failure.js";
import type { OpscError } from "../../src/core/errors.js";
import { decryptSops, encryptSops, parseSopsText, type SopsFormat } from "../../src/secrets/sops-file.js";

const SECRET = "tamper-secret-7Qz2Lm";
const OTHER = "second-secret-Xk93";
const PLAIN = `db:\n    password: ${SECRET}\n    user_unencrypted: admin\nlist:\n    - ${OTHER}\n    - third-value-Pp1\n`;

let identity: string;
let recipient: string;
let encrypted: string;

function expectNoPlaintext(e: OpscError): void {
  const text = `${e.message}\n${e.hint ?? ""}`;
  for (const s of [SECRET, OTHER, "third-value-Pp1"]) expect(text).not.toContain(s);
}

beforeAll(async () => {
  identity = await age.generateX25519Identity();
  recipient = await age.identityToRecipient(identity);
  encrypted = await encryptSops(parseSopsText(PLAIN, "yaml"), "yaml", { recipients: [recipient] });
});

describe("tampering", () => {
  it("the untouched file decrypts (the baseline the cases below break)", async () => {
    const doc = await decryptSops(encrypted, "yaml", [identity]);
    expect(doc.branches[0]?.get("list")).toEqual([OTHER, "third-value-Pp1"]);
  });

  it("a changed ciphertext: secrets.value-tampered", async () => {
    const changed = encrypted.replace(
      /(password: ENC\[AES256_GCM,data:)(.)/,
      (_m, a: string, c: string) => a + (c === "A" ? "B" : "A"),
    );
    expect(changed).not.toBe(encrypted);
    const e = await opscFailure(
      decryptSops(changed, "yaml", [identity], { file: "credentials/x.sops.yaml" }),
    );
    expect(e.code).toBe("secrets.value-tampered");
    expect(e.message).toContain('"db:password"');
    expect(e.hint).toMatch(/restore the file from Git history/);
    expectNoPlaintext(e);
  });

  it("a value moved to another key (AAD): secrets.value-tampered", async () => {
    const pw = /password: (ENC\[[^\]]+\])/.exec(encrypted)?.[1] ?? "";
    const moved = encrypted.replace(/(list:\n {4}- )ENC\[[^\]]+\]/, `$1${pw}`);
    const e = await opscFailure(decryptSops(moved, "yaml", [identity]));
    expect(e.code).toBe("secrets.value-tampered");
    expectNoPlaintext(e);
  });

  it("a value replaced in clear: secrets.value-tampered", async () => {
    const clear = encrypted.replace(/password: ENC\[[^\]]+\]/, "password: hunter2");
    const e = await opscFailure(decryptSops(clear, "yaml", [identity]));
    expect(e.code).toBe("secrets.value-tampered");
    expect(e.message).toContain("should be encrypted but is not");
    expect(e.message).not.toContain("hunter2");
  });

  it("reordered list values: secrets.mac-mismatch", async () => {
    const m = /list:\n {4}- (ENC\[[^\]]+\])\n {4}- (ENC\[[^\]]+\])/.exec(encrypted);
    const swapped = encrypted.replace(m?.[0] ?? "", `list:\n    - ${m?.[2]}\n    - ${m?.[1]}`);
    expect(swapped).not.toBe(encrypted);
    const e = await opscFailure(
      decryptSops(swapped, "yaml", [identity], { file: "credentials/x.sops.yaml" }),
    );
    expect(e.code).toBe("secrets.mac-mismatch");
    expect(e.message).toContain("credentials/x.sops.yaml");
    expect(e.hint).toMatch(/opsc secrets edit/);
    expectNoPlaintext(e);
  });

  it("a changed unencrypted value: secrets.mac-mismatch", async () => {
    const e = await opscFailure(
      decryptSops(encrypted.replace('user_unencrypted: "admin"', 'user_unencrypted: "root"'), "yaml", [
        identity,
      ]),
    );
    expect(e.code).toBe("secrets.mac-mismatch");
  });

  it("a changed lastmodified (the MAC's AAD): secrets.mac-mismatch", async () => {
    const e = await opscFailure(
      decryptSops(encrypted.replace(/lastmodified: "(\d{4})/, 'lastmodified: "1999'), "yaml", [identity]),
    );
    expect(e.code).toBe("secrets.mac-mismatch");
  });

  it("a removed MAC: secrets.mac-missing", async () => {
    const e = await opscFailure(
      decryptSops(encrypted.replace(/\n {4}mac: ENC\[[^\]]+\]/, ""), "yaml", [identity]),
    );
    expect(e.code).toBe("secrets.mac-missing");
    expect(e.hint).toMatch(/tampering/);
  });

  it("a wrong key: secrets.no-identity, naming the recipients", async () => {
    const other = await age.generateX25519Identity();
    const e = await opscFailure(decryptSops(encrypted, "yaml", [other], { file: "credentials/x.sops.yaml" }));
    expect(e.code).toBe("secrets.no-identity");
    expect(e.hint).toContain(recipient.slice(0, 24));
    expect(e.hint).toMatch(/SOPS_AGE_KEY_FILE/);
  });

  it("a plaintext file: secrets.not-encrypted", async () => {
    const e = await opscFailure(decryptSops(PLAIN, "yaml", [identity], { file: "credentials/x.sops.yaml" }));
    expect(e.code).toBe("secrets.not-encrypted");
    expect(e.message).toBe("credentials/x.sops.yaml is not encrypted: it has no sops metadata");
    expect(e.hint).toMatch(/rotate any secret/);
    expectNoPlaintext(e);
  });

  it("an unknown value type: secrets.unsupported", async () => {
    const doc = await decryptSops(encrypted, "yaml", [identity]);
    const bytes = await encryptSops(parseSopsText("a: x\n", "yaml"), "yaml", {
      recipients: [recipient],
      previous: doc,
    });
    const e = await opscFailure(decryptSops(bytes.replace("type:str]", "type:blob]"), "yaml", [identity]));
    // The type is outside the GCM tag, so the value opens; the unknown type is what refuses it.
    expect(e.code).toBe("secrets.unsupported");
    expect(e.message).toContain('unknown type "blob"');
  });

  it("several key groups (Shamir): secrets.unsupported", async () => {
    const text = encrypted.replace(
      "sops:\n",
      "sops:\n    key_groups:\n        - age: []\n        - age: []\n",
    );
    const e = await opscFailure(decryptSops(text, "yaml", [identity]));
    expect(e.code).toBe("secrets.unsupported");
    expect(e.message).toMatch(/key groups/);
  });

  it("two crypt rules in the metadata: secrets.bad-metadata", async () => {
    const text = encrypted.replace(
      "    unencrypted_suffix: _unencrypted\n",
      "    unencrypted_suffix: _unencrypted\n    encrypted_regex: ^x$\n",
    );
    const e = await opscFailure(decryptSops(text, "yaml", [identity]));
    expect(e.code).toBe("secrets.bad-metadata");
  });

  it.each<[SopsFormat, string]>([
    ["json", '{"a": [1, 2}'],
    ["yaml", "a: [1, 2\n"],
  ])("broken %s syntax: an error with line and column", async (format, text) => {
    const e = await opscFailure(decryptSops(text, format, [identity], { file: "credentials/bad" }));
    expect(e.code).toBe(`secrets.bad-${format}`);
    expect(e.position?.file).toBe("credentials/bad");
    expect(e.position?.line).toBeGreaterThanOrEqual(1);
  });
});
