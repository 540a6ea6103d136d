/** SSH signatures against the real ssh-keygen, both directions, for every key kind we support. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fingerprint, signMessage, verifySignature } from "../../src/core/sshsig.js";
import { readSigningKey } from "../../src/secrets/signing-key.js";

const NS = "opsconductor-approval";
const MESSAGE = "4f6c0c5d3b4d9e2e8a1f7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e";
const dir = mkdtempSync(join(tmpdir(), "opsc-sshsig-"));
const KINDS = [
  ["ed25519", []],
  ["rsa", ["-b", "2048"]],
  ["ecdsa", ["-b", "256"]],
  ["ecdsa", ["-b", "384"]],
  ["ecdsa", ["-b", "521"]],
] as const;

function keygen(name: string, type: string, extra: readonly string[]): string {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, ...extra, "-N", "", "-C", name, "-f", file]);
  return file;
}

function keygenSign(key: string, namespace = NS): string {
  return execFileSync("ssh-keygen", ["-Y", "sign", "-f", key, "-n", namespace], {
    input: MESSAGE,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "ignore"],
  });
}

describe.each(KINDS)("%s %s", (type, extra) => {
  const name = `${type}${extra.join("")}`;
  const key = keygen(name, type, extra);
  const pub = readFileSync(`${key}.pub`, "utf8").trim();

  it("verifies a signature made by ssh-keygen -Y sign", () => {
    const sig = verifySignature(keygenSign(key), MESSAGE, NS);
    const expected = execFileSync("ssh-keygen", ["-lf", `${key}.pub`], { encoding: "utf8" }).split(" ")[1];
    expect(fingerprint(sig.publicKey)).toBe(expected);
    expect(() => verifySignature(keygenSign(key), `${MESSAGE}x`, NS)).toThrow(/does not match/);
    expect(() => verifySignature(keygenSign(key, "git"), MESSAGE, NS)).toThrow(/namespace "git"/);
  });

  it("signs so that ssh-keygen -Y verify accepts it", async () => {
    const signing = await readSigningKey(key, {});
    const armored = signMessage(signing.privateKey, signing.publicKey, MESSAGE, NS);
    writeFileSync(join(dir, `${name}.sig`), armored);
    writeFileSync(join(dir, `${name}.allowed`), `${name}@example.com ${pub}\n`);
    const verify = (message: string) =>
      spawnSync(
        "ssh-keygen",
        [
          "-Y",
          "verify",
          "-f",
          join(dir, `${name}.allowed`),
          "-I",
          `${name}@example.com`,
          "-n",
          NS,
          "-s",
          join(dir, `${name}.sig`),
        ],
        { input: message, encoding: "utf8" },
      );
    const good = verify(MESSAGE);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain(`Good "${NS}" signature for ${name}@example.com`);
    expect(verify(`${MESSAGE}x`).status).not.toBe(0);
  });
});
