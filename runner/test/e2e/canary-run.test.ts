/**
 * End to end: secrets decrypted from a real SOPS file for a real run must not
 * reach anything OpsConductor writes or shows: the terminal, the records
 * branch (every file and every commit message), the audit trail, the crash
 * journal, error messages, or the process table while the run is going.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as age from "age-encryption";
import { encryptSops } from "../../src/secrets/sops-file.js";
import { parseYamlBranches } from "../../src/secrets/sops-yaml.js";
import { assertNoCanary, CANARY, CANARY_LINE, CANARY_MULTILINE } from "../helpers/canary.js";
import { git, TestRepo } from "../helpers/automation-repo.js";
import { cleanEnv, opscAsync } from "../helpers/opsc-cli.js";

let repo: TestRepo;
let env: Record<string, string>;
let keys: string;

beforeAll(async () => {
  repo = new TestRepo("opsc-canary-run-");
  const identity = await age.generateX25519Identity();
  const recipient = await age.identityToRecipient(identity);
  const plain = `token: ${CANARY}\nkey: |\n${CANARY_MULTILINE.trimEnd()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n")}\n`;
  const encrypted = await encryptSops(parseYamlBranches(plain), "yaml", { recipients: [recipient] });
  keys = mkdtempSync(join(tmpdir(), "opsc-canary-key-"));
  const keyFile = join(keys, "keys.txt");
  writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
  env = cleanEnv(repo.dir, { SOPS_AGE_KEY_FILE: keyFile, OPSC_ACTOR: "canary-test" });
  repo.commit({
    "opsconductor.yaml": "name: canary\n",
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    "credentials/app.sops.yaml": encrypted,
    "jobs/leak.yaml": [
      "targets: { names: [here] }",
      "secrets: { TOKEN: app/token, KEY: app/key }",
      "steps:",
      "  - id: echo",
      "    run: |",
      '      echo "token is $TOKEN"',
      '      printf "%s\\n" "$KEY"',
      '      echo "$TOKEN" >&2',
      '      echo "leaked=$TOKEN" >>"$OPSC_OUTPUT"',
      "      sleep 1",
      "  - id: fail",
      "    run: |",
      '      echo "failing with $TOKEN" >&2',
      "      exit 3",
      "",
    ].join("\n"),
  });
});

afterAll(() => {
  if (repo) rmSync(repo.dir, { recursive: true, force: true });
  if (keys) rmSync(keys, { recursive: true, force: true });
});

/** Every process's command line, read while the run is going. */
function processArguments(): string {
  let all = "";
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      all += readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ") + "\n";
    } catch {
      // the process ended between listing and reading
    }
  }
  return all;
}

describe("a run with secrets", () => {
  it("leaks no secret value into output, records, audit, journal, commits or process arguments", async () => {
    let argv = "";
    const sampler = setInterval(() => (argv += processArguments()), 100);
    const r = await opscAsync(["run", "leak", "--output"], { cwd: repo.dir, env });
    clearInterval(sampler);
    const out = r.stdout + r.stderr;
    const code = r.status;

    // The run really happened and really used the secret: its failure is recorded.
    expect(code).toBe(1);
    expect(out).toContain("token is ***");
    expect(out).toContain("failing with ***");
    expect(argv).toContain("opsc.js run leak");
    assertNoCanary(out, "terminal output");
    assertNoCanary(argv, "process arguments");

    const files = git(repo.dir, "ls-tree", "-r", "--name-only", "opsconductor/runs").split("\n");
    expect(files.some((f) => f.endsWith("/targets/here.log"))).toBe(true);
    expect(files.some((f) => f.startsWith("audit/"))).toBe(true);
    for (const file of files) {
      const text = git(repo.dir, "show", `opsconductor/runs:${file}`);
      assertNoCanary(text, `records branch file ${file}`);
    }
    const log = files.find((f) => f.endsWith("/targets/here.log"))!;
    expect(git(repo.dir, "show", `opsconductor/runs:${log}`)).toContain("token is ***");
    assertNoCanary(git(repo.dir, "log", "--format=%B", "opsconductor/runs"), "record commit messages");

    // The crash journal is removed after the record is written; whatever is left must be clean too.
    const state = join(repo.gitdir, "opsconductor");
    for (const name of readdirSync(state, { recursive: true }) as string[]) {
      try {
        assertNoCanary(readFileSync(join(state, name), "utf8"), `state file ${name}`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EISDIR") throw e;
      }
    }
    for (const value of [CANARY, CANARY_LINE]) expect(out.includes(value)).toBe(false);
  });

  it("names no secret value when a credential reference is wrong", async () => {
    repo.commit({
      "jobs/leak.yaml": "targets: { names: [here] }\nsecrets: { TOKEN: app/nope }\nsteps:\n  - run: 'true'\n",
    });
    const r = await opscAsync(["run", "leak"], { cwd: repo.dir, env });
    const out = r.stdout + r.stderr;
    expect(r.status).toBe(3);
    // Caught by validation before anything is decrypted; key names are not secret.
    expect(out).toContain(
      "jobs/leak.yaml:2:19: error[ref.unknown-credential-key]: credentials/app.sops.yaml has no key `nope`",
    );
    assertNoCanary(out, "error output");
  });
});
