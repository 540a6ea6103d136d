import * as age from "age-encryption";
import { beforeAll, describe, expect, it } from "vitest";
import { opscFailure } from "../helpers/opsc-failure.js";
import { CredentialStore, parseCredentialRef } from "../../src/secrets/credential-store.js";
import { MASK, Redactor } from "../../src/secrets/redactor.js";
import { encryptSops, inspectSops, parseSopsText } from "../../src/secrets/sops-file.js";

const KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIG\n-----END OPENSSH PRIVATE KEY-----\n";

let identity: string;
let files: Map<string, Uint8Array>;
let reads: string[];

const reader = async (path: string): Promise<Uint8Array | undefined> => {
  reads.push(path);
  return files.get(path);
};

beforeAll(async () => {
  identity = await age.generateX25519Identity();
  const recipient = await age.identityToRecipient(identity);
  const prodYaml = `ssh:\n    private_key: |\n${KEY.split("\n")
    .filter((l) => l !== "")
    .map((l) => `        ${l}`)
    .join(
      "\n",
    )}\n    passphrase: pass-Wq81z\napi.v2:\n    token: tok-Hh3k\nport: 2222\nnote_unencrypted: public-note\n`;
  files = new Map([
    [
      "credentials/prod.sops.yaml",
      Buffer.from(await encryptSops(parseSopsText(prodYaml, "yaml"), "yaml", { recipients: [recipient] })),
    ],
    [
      "credentials/staging.sops.json",
      Buffer.from(
        await encryptSops(parseSopsText('{"db": {"password": "stg-Pw-991"}}', "json"), "json", {
          recipients: [recipient],
        }),
      ),
    ],
    ["credentials/plain.sops.yaml", Buffer.from("token: in-clear-Zz0\n")],
  ]);
});

describe("CredentialStore", () => {
  it("resolves a leaf, a mapping, a key with dots, and a JSON file", async () => {
    reads = [];
    const store = new CredentialStore(reader, [identity], new Redactor());
    expect(await store.get("prod/ssh.passphrase")).toBe("pass-Wq81z");
    expect(await store.get("prod/ssh")).toEqual({ private_key: KEY, passphrase: "pass-Wq81z" });
    expect(await store.get("prod/api.v2.token")).toBe("tok-Hh3k");
    expect(await store.get("prod/port")).toBe("2222");
    expect(await store.get("staging/db.password")).toBe("stg-Pw-991");
  });

  it("decrypts each file at most once", async () => {
    reads = [];
    const store = new CredentialStore(reader, [identity], new Redactor());
    await Promise.all([store.get("prod/ssh.passphrase"), store.get("prod/port"), store.get("prod/ssh")]);
    expect(reads.filter((r) => r === "credentials/prod.sops.yaml")).toHaveLength(1);
  });

  it("registers every decrypted value and each line of a multi-line one before returning", async () => {
    const redactor = new Redactor();
    const store = new CredentialStore(reader, [identity], redactor);
    await store.get("prod/port");
    const line = KEY.split("\n")[1] ?? "";
    const masked = redactor.redact(`a pass-Wq81z b tok-Hh3k c ${line} d public-note`);
    expect(masked).toBe(`a ${MASK} b ${MASK} c ${MASK} d public-note`);
  });

  it("a missing file: secrets.file-missing", async () => {
    const e = await opscFailure(new CredentialStore(reader, [identity], new Redactor()).get("nope/x"));
    expect(e.code).toBe("secrets.file-missing");
    expect(e.message).toContain("credentials/nope.sops.yaml");
    expect(e.hint).toMatch(/opsc secrets set/);
  });

  it("a missing key path: secrets.key-missing, without any value", async () => {
    const e = await opscFailure(
      new CredentialStore(reader, [identity], new Redactor()).get("prod/ssh.nothing"),
    );
    expect(e.code).toBe("secrets.key-missing");
    expect(e.message).toBe(
      'credentials/prod.sops.yaml has no key "ssh.nothing" (reference prod/ssh.nothing)',
    );
    expect(`${e.message}${e.hint}`).not.toMatch(/pass-Wq81z|tok-Hh3k/);
  });

  it("a plaintext file under credentials/: secrets.not-encrypted, value not shown", async () => {
    const e = await opscFailure(new CredentialStore(reader, [identity], new Redactor()).get("plain/token"));
    expect(e.code).toBe("secrets.not-encrypted");
    expect(`${e.message}${e.hint}`).not.toContain("in-clear-Zz0");
  });

  it("a wrong identity: secrets.no-identity", async () => {
    const other = await age.generateX25519Identity();
    const e = await opscFailure(new CredentialStore(reader, [other], new Redactor()).get("prod/port"));
    expect(e.code).toBe("secrets.no-identity");
  });

  it("a malformed reference: secrets.bad-reference", () => {
    expect(() => parseCredentialRef("prod/a..b")).toThrow(/not a credential reference/);
    expect(() => parseCredentialRef("../../etc/x/key")).toThrow(/not a credential reference/);
    expect(() => parseCredentialRef("prod")).toThrow(/not a credential reference/);
    expect(parseCredentialRef("prod/ssh.private_key")).toEqual({
      name: "prod",
      keyPath: ["ssh", "private_key"],
    });
    expect(parseCredentialRef("team/prod/db")).toEqual({ name: "team/prod", keyPath: ["db"] });
  });

  it("key names are readable without decrypting (for validation)", () => {
    const text = Buffer.from(files.get("credentials/prod.sops.yaml") ?? new Uint8Array()).toString("utf8");
    const { keyPaths, metadata } = inspectSops(text, "yaml");
    expect([...keyPaths]).toEqual([
      "ssh",
      "ssh.private_key",
      "ssh.passphrase",
      "api.v2",
      "api.v2.token",
      "port",
      "note_unencrypted",
    ]);
    expect(metadata.age).toHaveLength(1);
  });
});
