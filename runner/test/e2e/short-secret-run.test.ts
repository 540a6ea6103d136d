/**
 * Short secret values (`1`, `true`) are everywhere as substrings: in run ids,
 * timestamps, exit codes and JSON. Masking is for output text only, and short
 * values only as whole tokens, so a record keeps its shape and later runs are
 * never blocked by a record that could not be written.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as age from "age-encryption";
import { encryptSops } from "../../src/secrets/sops-file.js";
import { parseYamlBranches } from "../../src/secrets/sops-yaml.js";
import { git, TestRepo } from "../helpers/automation-repo.js";
import { cleanEnv, opsc } from "../helpers/opsc-cli.js";

const BRANCH = "opsconductor/runs";
let repo: TestRepo;
let env: Record<string, string>;
let keys: string;

beforeAll(async () => {
  repo = new TestRepo("opsc-short-secret-");
  const identity = await age.generateX25519Identity();
  const recipient = await age.identityToRecipient(identity);
  const encrypted = await encryptSops(parseYamlBranches('one: "1"\nflag: "true"\nx: x\n'), "yaml", {
    recipients: [recipient],
  });
  keys = mkdtempSync(join(tmpdir(), "opsc-short-key-"));
  const keyFile = join(keys, "keys.txt");
  writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
  env = cleanEnv(repo.dir, { SOPS_AGE_KEY_FILE: keyFile, OPSC_ACTOR: "short-test" });
  repo.commit({
    "opsconductor.yaml": "name: short\n",
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    "credentials/app.sops.yaml": encrypted,
    "jobs/short.yaml": [
      "targets: { names: [here] }",
      "inputs: { count: { type: string, default: '1' } }",
      "secrets: { ONE: app/one, FLAG: app/flag, X: app/x }",
      "steps:",
      "  - id: echo",
      "    run: |",
      '      echo "$ONE"',
      '      echo "code=$ONE flag: $FLAG"',
      '      echo "$X"',
      "      echo 2026-11-01T10:11:01Z 101 x1 truely",
      "  - id: fail",
      "    run: exit 1",
      "",
    ].join("\n"),
  });
});

afterAll(() => {
  repo?.remove();
  if (keys) rmSync(keys, { recursive: true, force: true });
});

function runJsonOf(id: string): Record<string, unknown> {
  const file = git(repo.dir, "ls-tree", "-r", "--name-only", BRANCH)
    .split("\n")
    .find((f) => f.endsWith(`${id}/run.json`));
  expect(file, `run.json of ${id}`).toBeDefined();
  return JSON.parse(git(repo.dir, "show", `${BRANCH}:${file}`)) as Record<string, unknown>;
}

describe("a run whose secrets are 1, true and x", () => {
  it("records a whole run: ids, timestamps, exit codes intact; the values masked where they stand alone", () => {
    const first = opsc(["run", "short"], { cwd: repo.dir, env });
    expect(first.stderr).not.toContain("records.bad-run-id");
    expect(first.status).toBe(1); // the step that exits 1 fails the run
    const logFile = git(repo.dir, "ls-tree", "-r", "--name-only", BRANCH)
      .split("\n")
      .find((f) => f.endsWith("/targets/here.log"))!;
    const id = /runs\/\d{4}\/\d\d\/\d\d\/([^/]+)\//.exec(logFile)?.[1] ?? "";
    expect(id).toMatch(/^\d{8}T\d{6}Z-short-[0-9a-f]{4}$/);
    const run = runJsonOf(id);
    expect(run.id).toBe(id);
    expect(run.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(run.result).toBe("failure");
    expect(run.inputs).toEqual({ count: "***" }); // an input value is text
    const steps = (run.targets as Array<{ steps: Array<{ id: string; exitCode?: number }> }>)[0]!.steps;
    expect(steps.find((s) => s.id === "fail")?.exitCode).toBe(1);

    const log = git(repo.dir, "show", `${BRANCH}:${logFile}`);
    const lines = log.split("\n");
    // A line that is the value, and the value as a token, are masked.
    expect(lines).toContain("***");
    expect(lines).toContain("code=*** flag: ***");
    expect(lines).not.toContain("1");
    expect(lines).not.toContain("x");
    // Inside numbers and words it is not a secret: nothing is garbled.
    expect(lines).toContain("2026-11-01T10:11:01Z 101 x1 truely");
    expect(log).toMatch(/<<< step fail failed in \d+ ms, exit 1/);

    // Nothing left behind: the next run is not blocked.
    const journal = join(repo.gitdir, "opsconductor", "journal");
    expect(readdirSync(journal).filter((n) => n.endsWith(".jsonl"))).toEqual([]);
    const second = opsc(["run", "short"], { cwd: repo.dir, env });
    expect(second.status).toBe(1);
  });

  it("a leftover journal that cannot be recorded is moved aside with a warning; the run goes on", () => {
    const journal = join(repo.gitdir, "opsconductor", "journal");
    mkdirSync(journal, { recursive: true });
    const header = {
      type: "journal",
      v: 1,
      runId: "2026******-short-0000",
      owner: { pid: 2 ** 22 + 7, host: hostname(), token: "gone" },
      repo: realpathSync(repo.gitdir),
      context: {
        job: "short",
        trigger: { kind: "manual", actor: "t" },
        inputs: {},
        checkMode: false,
        phases: [],
      },
    };
    const name = "2026******-short-0000.jsonl";
    writeFileSync(join(journal, name), `${JSON.stringify(header)}\n`);

    const next = opsc(["run", "short"], { cwd: repo.dir, env });
    expect(next.status).toBe(1); // the job ran: its failing step, not exit 3
    expect(next.stderr).toContain("records.bad-run-id");
    expect(next.stderr).toContain(join(journal, "unrecorded", name));
    expect(existsSync(join(journal, name))).toBe(false);
    expect(readFileSync(join(journal, "unrecorded", name), "utf8")).toContain('"type":"journal"');

    // And it stays out of the way.
    const again = opsc(["run", "short"], { cwd: repo.dir, env });
    expect(again.status).toBe(1);
    expect(again.stderr).not.toContain("records.bad-run-id");
  });
});
