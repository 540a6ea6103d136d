/**
 * Alias bombs in the files `opsc secrets` reads: a clear user error with the
 * file and position, never a hang or a stack trace.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanEnv, opsc } from "../helpers/opsc-cli.js";
import { ALIAS_BOMB } from "../helpers/hostile-yaml.js";

let dir: string;
let env: Record<string, string>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "opsc-hostile-"));
  env = cleanEnv(dir);
  expect(opsc(["secrets", "keygen"], { cwd: dir, env }).status).toBe(0);
  mkdirSync(join(dir, "credentials"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("hostile YAML in secrets files", () => {
  it("decrypt refuses a credentials file that is an alias bomb, at the alias", () => {
    const sops = "\nsops:\n  mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n  version: 3.10.2\n";
    writeFileSync(join(dir, "credentials/bomb.sops.yaml"), ALIAS_BOMB + sops);
    const r = opsc(["secrets", "decrypt", "credentials/bomb.sops.yaml"], { cwd: dir, env });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("error[yaml.alias-limit]");
    expect(r.stderr).toContain("credentials/bomb.sops.yaml:5:8");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("set refuses a .sops.yaml that is an alias bomb, with a user error and no stack", () => {
    writeFileSync(join(dir, ".sops.yaml"), `${ALIAS_BOMB}\ncreation_rules: [{ age: *i }]\n`);
    const r = opsc(["secrets", "set", "credentials/app.sops.yaml", "db"], { cwd: dir, env, input: "pw\n" });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("error[yaml.alias-limit]");
    expect(r.stderr).toMatch(/\.sops\.yaml:5:8/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
