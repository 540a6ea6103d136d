/**
 * host_key: what the schema accepts and what the transport pins are the same
 * lines: a `.pub` line, or an `ssh-keyscan` / known_hosts line with one leading
 * host field. Keys come from the real ssh-keygen.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateKind } from "../../src/repo/schemas.js";
import { parsePinnedKey } from "../../src/transports/host-key.js";

function newKey(type: string): string {
  const dir = mkdtempSync(join(tmpdir(), "opsc-hostkey-"));
  try {
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "root@web-1", "-f", join(dir, "k")]);
    return readFileSync(join(dir, "k.pub"), "utf8").trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const schemaAccepts = (line: string): boolean =>
  validateKind("targets", { targets: { web: { host: "10.0.1.11", host_key: line } } }).length === 0;

describe("host_key lines", () => {
  const ed = newKey("ed25519");
  const ecdsa = newKey("ecdsa");
  const [edType, edB64] = ed.split(" ") as [string, string];
  const [ecType, ecB64] = ecdsa.split(" ") as [string, string];
  const blob = Buffer.from(edB64, "base64");

  const accepted: Array<[string, string]> = [
    ["a .pub line with its comment", ed],
    ["type and key only", `${edType} ${edB64}`],
    ["ssh-keyscan output (leading host)", `web-1 ${edType} ${edB64}`],
    ["ssh-keyscan -p output ([host]:port)", `[10.0.1.11]:2222 ${ecType} ${ecB64}`],
    ["a hashed known_hosts line", `|1|c2FsdA==|aGFzaA== ${edType} ${edB64}`],
    ["a known_hosts line with several names", `web-1,10.0.1.11 ${edType} ${edB64} a comment`],
  ];
  it.each(accepted)("accepts %s, in the schema and in the transport alike", (_, line) => {
    expect(schemaAccepts(line)).toBe(true);
    const pinned = parsePinnedKey(line);
    expect(pinned).not.toBeNull();
    expect(pinned!.type).toBe(line.includes(ecType) ? ecType : edType);
  });

  it("pins the same key with or without the leading host name", () => {
    expect(parsePinnedKey(`web-1 ${edType} ${edB64}`)!.blob.equals(blob)).toBe(true);
    expect(parsePinnedKey(ed)!.blob.equals(blob)).toBe(true);
  });

  const refused: Array<[string, string]> = [
    ["a @cert-authority marker line", `@cert-authority *.example.org ${edType} ${edB64}`],
    ["a @revoked marker line", `@revoked web-1 ${edType} ${edB64}`],
    ["two leading fields", `web-1 10.0.1.11 ${edType} ${edB64}`],
    ["an unknown key type", `ssh-dss ${edB64}`],
    ["a signature algorithm named as the key type", `rsa-sha2-512 ${edB64}`],
    ["a key without its type", edB64],
  ];
  it.each(refused)("refuses %s, in the schema and in the transport alike", (_, line) => {
    expect(schemaAccepts(line)).toBe(false);
    expect(parsePinnedKey(line)).toBeNull();
  });

  it("the transport refuses a key whose blob is of another type than named", () => {
    expect(parsePinnedKey(`${ecType} ${edB64}`)).toBeNull();
    expect(parsePinnedKey(`web-1 ${ecType} ${edB64}`)).toBeNull();
  });
});
