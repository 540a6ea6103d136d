/**
 * `opsc secrets ...` through the built CLI. Needs the real `age` CLI (Debian
 * package `age`) for the "data key opens with age -d" case.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { parseIdentityFile } from "../../src/secrets/identities.js";
import { decryptSops } from "../../src/secrets/sops-file.js";
import { HAVE_AGE, cleanEnv, opsc, type CliResult } from "../helpers/opsc-cli.js";

let dir: string;
let env: Record<string, string>;
let keyFile: string;
let recipient: string;

function run(args: string[], input?: string): CliResult {
  return opsc(args, { cwd: dir, env, ...(input !== undefined ? { input } : {}) });
}

function ok(r: CliResult): CliResult {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return r;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "opsc-secrets-"));
  env = cleanEnv(dir);
  const r = ok(run(["secrets", "keygen"]));
  recipient = r.stdout.trim();
  keyFile = join(dir, ".config/sops/age/keys.txt");
  writeFileSync(
    join(dir, ".sops.yaml"),
    `creation_rules:\n  - path_regex: ^credentials/.*\\.sops\\.(yaml|json)$\n    age: ${recipient}\n`,
  );
});

describe("opsc secrets", () => {
  it("keygen writes the identity with mode 0600, prints the recipient, and never overwrites", () => {
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(keyFile, "utf8");
    expect(text).toContain(`# public key: ${recipient}`);
    expect(text).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]+$/m);
    const again = run(["secrets", "keygen"]);
    expect(again.status).toBe(3);
    expect(again.stderr).toContain("error[secrets.keygen-exists]");
    expect(again.stderr).not.toMatch(/AGE-SECRET-KEY/);
  });

  it("encrypt hides every value, names the recipients, and its data key opens with the age CLI", async () => {
    const plain = 'db:\n  password: "pw-Enc-4471"\n  port: 5432\nflags: [true, 1.5]\nwhen: 2024-05-06\n';
    ok(run(["secrets", "set", "credentials/seed.sops.yaml", "x"], "seed\n"));
    writeFileSync(join(dir, "credentials/app.sops.yaml"), plain);
    const r = ok(run(["secrets", "encrypt", "credentials/app.sops.yaml"]));
    expect(r.stdout).toBe("");
    const text = readFileSync(join(dir, "credentials/app.sops.yaml"), "utf8");
    for (const v of ["pw-Enc-4471", "5432", "true", "1.5", "2024-05-06"]) expect(text).not.toContain(v);
    const parsed = YAML.parse(text) as {
      db: { password: string };
      sops: { age: Array<{ recipient: string; enc: string }>; lastmodified: string };
    };
    expect(parsed.db.password).toMatch(/^ENC\[AES256_GCM,data:.+,iv:.+,tag:.+,type:str\]$/);
    expect(parsed.sops.age.map((a) => a.recipient)).toEqual([recipient]);
    expect(text).toMatch(/lastmodified: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/);

    const doc = await decryptSops(text, "yaml", parseIdentityFile(readFileSync(keyFile, "utf8"), "keys.txt"));
    const out = ok(run(["secrets", "decrypt", "credentials/app.sops.yaml"]));
    expect(YAML.parse(out.stdout)).toEqual({
      db: { password: "pw-Enc-4471", port: 5432 },
      flags: [true, 1.5],
      when: "2024-05-06T00:00:00Z",
    });
    if (HAVE_AGE) {
      const encFile = join(dir, "enc.age");
      writeFileSync(encFile, parsed.sops.age[0]?.enc ?? "");
      const age = spawnSync("age", ["-d", "-i", keyFile, encFile]);
      expect(age.status).toBe(0);
      expect(Buffer.from(age.stdout).equals(Buffer.from(doc.dataKey))).toBe(true);
    }
  });

  it("encrypt follows encrypted_regex from the creation rule and refuses an encrypted file", () => {
    writeFileSync(
      join(dir, ".sops.yaml"),
      `creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: >-\n      ${recipient}\n`,
    );
    writeFileSync(join(dir, "s.yaml"), "kind: Secret\nstringData:\n  token: tok-Rx7\n");
    ok(run(["secrets", "encrypt", "s.yaml"]));
    const text = readFileSync(join(dir, "s.yaml"), "utf8");
    expect(text).toContain('kind: "Secret"');
    expect(text).not.toContain("tok-Rx7");
    expect(text).toContain("encrypted_regex: ^(data|stringData)$");
    const again = run(["secrets", "encrypt", "s.yaml"]);
    expect(again.status).toBe(3);
    expect(again.stderr).toContain("error[secrets.already-encrypted]");
  });

  it("encrypt without a matching rule says how to add one", () => {
    writeFileSync(join(dir, "other.yaml"), "a: b\n");
    const r = run(["secrets", "encrypt", "other.yaml"]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("error[secrets.no-creation-rule]: no creation rule in");
    expect(r.stderr).toContain("hint: add a rule whose path_regex matches this file");
  });

  it("set reads the value from stdin, keeps unchanged values' ciphertext, and keeps multi-line values exact", () => {
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "api.token"], "tok-Set-123\n"));
    const before = readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8");
    expect(before).not.toContain("tok-Set-123");
    const pem = "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n";
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "ssh.private_key"], pem));
    const after = readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8");
    const tokenLine = (t: string) => /token: (ENC\[[^\]]+\])/.exec(t)?.[1];
    expect(tokenLine(before)).toMatch(/^ENC/);
    expect(tokenLine(after)).toBe(tokenLine(before));
    const out = YAML.parse(ok(run(["secrets", "decrypt", "credentials/prod.sops.yaml"])).stdout) as Record<
      string,
      Record<string, string>
    >;
    expect(out.api?.token).toBe("tok-Set-123");
    expect(out.ssh?.private_key).toBe(pem);
  });

  it("edit opens a private temporary copy in $EDITOR, re-encrypts, and removes the copy", () => {
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "db.password"], "old-Pw-1"));
    const log = join(dir, "editor.log");
    const editor = join(dir, "editor.sh");
    writeFileSync(
      editor,
      `#!/bin/sh\nset -e\necho "$1" > "${log}"\nstat -c %a "$1" >> "${log}"\nstat -c %a "$(dirname "$1")" >> "${log}"\nsed -i 's/old-Pw-1/new-Pw-2/' "$1"\n`,
    );
    chmodSync(editor, 0o755);
    env.EDITOR = editor;
    const r = ok(run(["secrets", "edit", "credentials/prod.sops.yaml"]));
    expect(r.stdout).toBe("");
    const [tmpPath, fileMode, dirMode] = readFileSync(log, "utf8").trim().split("\n");
    expect(fileMode).toBe("600");
    expect(dirMode).toBe("700");
    expect(existsSync(tmpPath ?? "")).toBe(false);
    expect(existsSync(join(tmpPath ?? "", ".."))).toBe(false);
    const text = readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8");
    expect(text).not.toContain("new-Pw-2");
    expect(YAML.parse(ok(run(["secrets", "decrypt", "credentials/prod.sops.yaml"])).stdout)).toEqual({
      db: { password: "new-Pw-2" },
    });
  });

  it("edit removes the copy and changes nothing when the editor fails", () => {
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "a"], "keep-Me-5"));
    const before = readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8");
    const log = join(dir, "failing.log");
    writeFileSync(join(dir, "fail.sh"), `#!/bin/sh\necho "$1" > "${log}"\nexit 3\n`);
    chmodSync(join(dir, "fail.sh"), 0o755);
    env.EDITOR = join(dir, "fail.sh");
    const r = run(["secrets", "edit", "credentials/prod.sops.yaml"]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain("error[secrets.editor-failed]");
    expect(r.stderr).not.toContain("keep-Me-5");
    expect(existsSync(readFileSync(log, "utf8").trim())).toBe(false);
    expect(readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8")).toBe(before);
  });

  it("updatekeys adds a recipient who can then decrypt; rotate changes the data key", async () => {
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "a"], "val-Up-8"));
    const second = join(dir, "second.txt");
    const r2 = ok(run(["secrets", "keygen", "-o", second]));
    const other = r2.stdout.trim();
    writeFileSync(
      join(dir, ".sops.yaml"),
      `creation_rules:\n  - path_regex: ^credentials/\n    age: ${recipient},${other}\n`,
    );
    const before = readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8");
    const u = ok(run(["secrets", "updatekeys", "credentials/prod.sops.yaml"]));
    expect(u.stderr).toContain(`+ ${other}`);
    const after = readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8");
    const value = (t: string) => /^a: (ENC\[[^\]]+\])/m.exec(t)?.[1];
    expect(value(before)).toMatch(/^ENC/);
    expect(value(after)).toBe(value(before));
    const asSecond = opsc(["secrets", "decrypt", "credentials/prod.sops.yaml"], {
      cwd: dir,
      env: cleanEnv(join(dir, "nohome"), { SOPS_AGE_KEY_FILE: second }),
    });
    expect(asSecond.status).toBe(0);
    expect(asSecond.stdout).toBe("a: val-Up-8\n");

    const ids = parseIdentityFile(readFileSync(keyFile, "utf8"), "k");
    const key1 = (await decryptSops(after, "yaml", ids)).dataKey;
    ok(run(["secrets", "rotate", "--rm-age", other, "credentials/prod.sops.yaml"]));
    const rotated = readFileSync(join(dir, "credentials/prod.sops.yaml"), "utf8");
    const doc = await decryptSops(rotated, "yaml", ids);
    expect(Buffer.from(doc.dataKey).equals(Buffer.from(key1))).toBe(false);
    expect(doc.metadata.age.map((a) => a.recipient)).toEqual([recipient]);
    expect(value(rotated)).not.toBe(value(after));
  });

  it("keygen --add-to-rule adds the recipient to that .sops.yaml rule, comments kept; updatekeys then lets it read", () => {
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "a"], "val-Add-9"));
    const rule = "^credentials/.*\\.sops\\.(yaml|json)$";
    writeFileSync(
      join(dir, ".sops.yaml"),
      `# who may read what\ncreation_rules:\n  - path_regex: ^other/\n    age: ${recipient}\n  - path_regex: ${rule} # all credentials\n    age: ${recipient}\n`,
    );
    const second = join(dir, "second.txt");
    const r = ok(run(["secrets", "keygen", "-o", second, "--add-to-rule", rule]));
    const other = r.stdout.trim();
    expect(r.stderr).toContain("opsc secrets updatekeys");
    const config = readFileSync(join(dir, ".sops.yaml"), "utf8");
    expect(config).toBe(
      `# who may read what\ncreation_rules:\n  - path_regex: ^other/\n    age: ${recipient}\n  - path_regex: ${rule} # all credentials\n    age: ${recipient},${other}\n`,
    );
    ok(run(["secrets", "updatekeys", "credentials/prod.sops.yaml"]));
    const asSecond = opsc(["secrets", "decrypt", "credentials/prod.sops.yaml"], {
      cwd: dir,
      env: cleanEnv(join(dir, "nohome"), { SOPS_AGE_KEY_FILE: second }),
    });
    expect(asSecond.stdout).toBe("a: val-Add-9\n");
  });

  it("keygen --add-to-rule with no such rule names the rules and writes no identity", () => {
    const before = readFileSync(join(dir, ".sops.yaml"), "utf8");
    const third = join(dir, "third.txt");
    const r = run(["secrets", "keygen", "-o", third, "--add-to-rule", "^nope/"]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("error[secrets.no-such-rule]");
    expect(r.stderr).toContain("^credentials/.*\\.sops\\.(yaml|json)$");
    expect(existsSync(third)).toBe(false);
    expect(readFileSync(join(dir, ".sops.yaml"), "utf8")).toBe(before);
  });

  it("decrypt with no identity configured says where identities come from", () => {
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "a"], "v-Nx-0"));
    const r = opsc(["secrets", "decrypt", "credentials/prod.sops.yaml"], {
      cwd: dir,
      env: cleanEnv(join(dir, "empty-home")),
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("error[secrets.no-identity]");
    expect(r.stderr).toMatch(/SOPS_AGE_KEY_FILE/);
    expect(r.stdout).toBe("");
  });

  it("a tampered file prints nothing on stdout and exits 3", () => {
    ok(run(["secrets", "set", "credentials/prod.sops.yaml", "a"], "v-Tm-1"));
    const p = join(dir, "credentials/prod.sops.yaml");
    writeFileSync(p, readFileSync(p, "utf8").replace(/\n {4}mac: .*/, ""));
    const r = run(["secrets", "decrypt", "credentials/prod.sops.yaml"]);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error[secrets.mac-missing]");
  });

  it.each(["keygen", "encrypt", "decrypt", "edit", "set", "updatekeys", "rotate"])(
    "%s --help has examples",
    (cmd) => {
      const r = ok(run(["secrets", cmd, "--help"]));
      expect(r.stdout).toContain("Example");
      expect(r.stdout).toContain(`opsc secrets ${cmd}`);
    },
  );
});
