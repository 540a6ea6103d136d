/**
 * Plants the canary secrets (runner/test/helpers/canary.ts) in credentials files
 * and searches every output of the secrets commands and their error paths for
 * them. Only `decrypt`'s stdout, whose job is to print them, is exempt.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as age from "age-encryption";
import { beforeAll, describe, expect, it } from "vitest";
import { reportError } from "../../src/cli/report-error.js";
import { CredentialStore } from "../../src/secrets/credential-store.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { CANARY, CANARY_LINE, CANARY_MULTILINE, assertNoCanary } from "../helpers/canary.js";
import { cleanEnv, opsc, type CliResult } from "../helpers/opsc-cli.js";

let dir: string;
let env: Record<string, string>;
const FILE = "credentials/prod.sops.yaml";
const outputs: Array<[string, CliResult]> = [];

function run(
  label: string,
  args: string[],
  input?: string,
  extraEnv: Record<string, string> = {},
): CliResult {
  const r = opsc(args, { cwd: dir, env: { ...env, ...extraEnv }, ...(input !== undefined ? { input } : {}) });
  outputs.push([label, r]);
  return r;
}

function tamper(transform: (t: string) => string): string {
  const name = `credentials/t${outputs.length}.sops.yaml`;
  writeFileSync(join(dir, name), transform(readFileSync(join(dir, FILE), "utf8")));
  return name;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsc-canary-"));
  env = cleanEnv(dir);
  const recipient = opsc(["secrets", "keygen"], { cwd: dir, env }).stdout.trim();
  writeFileSync(
    join(dir, ".sops.yaml"),
    `creation_rules:\n  - path_regex: ^credentials/\n    age: ${recipient}\n`,
  );
  run("set token", ["secrets", "set", FILE, "api.token"], CANARY);
  run("set key", ["secrets", "set", FILE, "ssh.private_key"], CANARY_MULTILINE);
});

describe("canary: no secret in any output of the secrets commands", () => {
  it("the planted values are really in the file (decrypt prints them)", () => {
    const r = run("decrypt", ["secrets", "decrypt", FILE]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(CANARY);
    expect(r.stdout).toContain(CANARY_LINE);
  });

  it("the encrypted file holds no canary", () => {
    assertNoCanary(readFileSync(join(dir, FILE), "utf8"), FILE);
  });

  it("error paths: tampered, MAC removed, MAC mismatch, wrong key, no key, bad edit, bad keypath", async () => {
    const other = join(dir, "other.txt");
    writeFileSync(other, `${await age.generateX25519Identity()}\n`);
    const cases: Array<[string, CliResult]> = [
      [
        "tampered",
        run("tampered", [
          "secrets",
          "decrypt",
          // Another first character of the ciphertext, whatever it was (base64: 1 in 64 is "Z").
          tamper((t) =>
            t.replace(
              /(token: ENC\[AES256_GCM,data:)(.)/,
              (_m, head: string, c: string) => head + (c === "Z" ? "Y" : "Z"),
            ),
          ),
        ]),
      ],
      [
        "mac removed",
        run("mac removed", ["secrets", "decrypt", tamper((t) => t.replace(/\n {4}mac: .*/, ""))]),
      ],
      [
        "lastmodified changed",
        run("lastmodified changed", [
          "secrets",
          "decrypt",
          tamper((t) => t.replace(/lastmodified: "\d{4}/, 'lastmodified: "2001')),
        ]),
      ],
      [
        "wrong key",
        run("wrong key", ["secrets", "decrypt", FILE], undefined, {
          XDG_CONFIG_HOME: join(dir, "none"),
          SOPS_AGE_KEY_FILE: other,
        }),
      ],
      [
        "no key",
        run("no key", ["secrets", "decrypt", FILE], undefined, { XDG_CONFIG_HOME: join(dir, "none") }),
      ],
      ["bad keypath", run("bad keypath", ["secrets", "set", FILE, "api.token.deeper"], "x")],
    ];
    const editor = join(dir, "break.sh");
    writeFileSync(editor, '#!/bin/sh\nprintf "api: [unclosed\\n" >> "$1"\n');
    chmodSync(editor, 0o755);
    cases.push(["bad edit", run("bad edit", ["secrets", "edit", FILE], undefined, { EDITOR: editor })]);
    for (const [label, r] of cases) {
      expect(r.status, `${label}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(/error\[secrets\./);
    }
  });

  it("normal paths: edit, updatekeys, rotate, encrypt", () => {
    const editor = join(dir, "touch.sh");
    writeFileSync(editor, '#!/bin/sh\nprintf "extra: 1\\n" >> "$1"\n');
    chmodSync(editor, 0o755);
    expect(run("edit", ["secrets", "edit", FILE], undefined, { EDITOR: editor }).status).toBe(0);
    expect(run("updatekeys", ["secrets", "updatekeys", FILE]).status).toBe(0);
    expect(run("rotate", ["secrets", "rotate", FILE]).status).toBe(0);
    writeFileSync(join(dir, "credentials/new.sops.yaml"), `k: ${CANARY}\n`);
    expect(run("encrypt", ["secrets", "encrypt", "credentials/new.sops.yaml"]).status).toBe(0);
    assertNoCanary(readFileSync(join(dir, "credentials/new.sops.yaml"), "utf8"), "encrypted new file");
    assertNoCanary(readFileSync(join(dir, FILE), "utf8"), "re-encrypted file");
  });

  it("every collected stdout (but decrypt's) and every stderr is clean", () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const [label, r] of outputs) {
      assertNoCanary(r.stderr, `stderr of ${label}`);
      if (label !== "decrypt") assertNoCanary(r.stdout, `stdout of ${label}`);
    }
  });

  it("CredentialStore errors and reported errors carry no canary; the redactor masks it", async () => {
    const redactor = new Redactor();
    const store = new CredentialStore(
      async (p) => {
        try {
          return readFileSync(join(dir, p));
        } catch {
          return undefined;
        }
      },
      [
        readFileSync(join(dir, ".config/sops/age/keys.txt"), "utf8")
          .split("\n")
          .find((l) => l.startsWith("AGE-SECRET-KEY")) ?? "",
      ],
      redactor,
    );
    expect(await store.get("prod/api.token")).toBe(CANARY);
    let written = "";
    for (const ref of ["prod/api.nothing", "missing/x", "t0/api.token"]) {
      try {
        await store.get(ref);
      } catch (e) {
        reportError(e, redactor, (s) => {
          written += s;
          return true;
        });
      }
    }
    expect(written).toContain("error[secrets.key-missing]");
    assertNoCanary(written, "reported CredentialStore errors");
    assertNoCanary(redactor.redact(`echo ${CANARY} and ${CANARY_LINE}`), "redacted text");
  });
});
