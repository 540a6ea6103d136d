/**
 * Golden tests of `opsc diff` (issue 7): the built CLI, a real Git repository,
 * one commit per real change on top of the fleet fixture. The outputs are
 * compared with golden/<name>.md and .json; commit ids are replaced by BASE and
 * HEAD so the goldens do not depend on commit dates. Regenerate after a
 * deliberate change with `UPDATE_GOLDEN=1 npx vitest run runner/test/review`.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git } from "../helpers/automation-repo.js";
import { PROJECT_ROOT } from "../helpers/opsc-cli.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const GOLDEN = join(HERE, "golden");
const AT = "2026-11-22T08:00:00Z";

let dir: string;
let base: string;
const heads = new Map<string, string>();

/** Rewrites one file of the work tree: `edit` gets the current text. */
function edit(path: string, change: (text: string) => string): void {
  const full = join(dir, path);
  const before = readFileSync(full, "utf8");
  const after = change(before);
  if (after === before) throw new Error(`edit of ${path} changed nothing: the fixture moved`);
  writeFileSync(full, after);
}

/** Each scenario is one commit on top of the base. */
const SCENARIOS: Record<string, () => void> = {
  "target-added": () =>
    edit("targets/web.yaml", (t) =>
      t.replace(
        /( {2}web-4:\n(?: {4}.*\n)+)/,
        `$1  web-5:\n    host: 10.0.1.15\n    host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICYiWAnY2RAnJAH2Xi5spiPRnIE2lGgJd6DAqaJnGV98"\n    labels: { zone: a }\n`,
      ),
    ),
  "step-input-changed": () =>
    edit("jobs/patch-web.yaml", (t) =>
      t.replace(
        `with: { packages: ["\${{ inputs.package }}"] }`,
        `with: { packages: ["\${{ inputs.package }}", curl], update_cache: false }`,
      ),
    ),
  "library-script-changed": () =>
    edit("steps/apt/install.yaml", (t) =>
      t.replace(
        "apt-get install -y $INPUT_PACKAGES",
        "apt-get install -y --no-install-recommends $INPUT_PACKAGES",
      ),
    ),
  "schedule-changed": () =>
    edit("jobs/db-backup.yaml", (t) =>
      t.replace(
        `cron: "15 1 * * *", timezone: America/New_York`,
        `cron: "45 2 * * 1-5", timezone: America/New_York`,
      ),
    ),
  "credential-added": () =>
    edit("jobs/fleet-health.yaml", (t) =>
      t.replace(
        "strategy: { parallel: 50 }",
        "strategy: { parallel: 50 }\nsecrets: { PGPASSWORD: prod/db.password }",
      ),
    ),
};

function commit(message: string): string {
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", message);
  return git(dir, "rev-parse", "HEAD");
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsc-diff-"));
  git(dir, "init", "-q", "-b", "main");
  cpSync(join(HERE, "fixtures/fleet"), dir, { recursive: true });
  base = commit("base");
  for (const [name, change] of Object.entries(SCENARIOS)) {
    change();
    heads.set(name, commit(name));
    git(dir, "reset", "-q", "--hard", base);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function opsc(...args: string[]) {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, "runner/bin/opsc.js"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function normalise(text: string, head: string): string {
  return text
    .replaceAll(base, "BASE")
    .replaceAll(base.slice(0, 12), "BASE")
    .replaceAll(head, "HEAD")
    .replaceAll(head.slice(0, 12), "HEAD");
}

function golden(file: string, actual: string): void {
  const path = join(GOLDEN, file);
  if (process.env.UPDATE_GOLDEN || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("opsc diff golden outputs", () => {
  for (const name of Object.keys(SCENARIOS)) {
    it(`${name}: markdown and json match the goldens`, () => {
      const head = heads.get(name)!;
      const md = opsc("diff", base, head, "--repo", dir, "--at", AT);
      expect(md.err).toBe("");
      expect(md.status).toBe(0);
      golden(`${name}.md`, normalise(md.out, head));
      const json = opsc("diff", base, head, "--repo", dir, "--at", AT, "--format", "json");
      expect(json.status).toBe(0);
      golden(`${name}.json`, normalise(json.out, head));
    });
  }
});

describe("opsc diff: what each change means", () => {
  interface JobOut {
    id: string;
    change: string;
    targets: { added: string[]; before: number; after: number };
    steps: Array<{ id: string; fields: Array<{ path: string; before?: unknown; after?: unknown }> }>;
    library: Array<{ id: string; fields: Array<{ path: string }> }>;
    schedules: Array<{
      change: string;
      before?: { cron: string; next: string[] };
      after?: { cron: string; next: string[] };
    }>;
    credentials: { added: string[]; removed: string[] };
  }
  const jobsOf = (name: string): Map<string, JobOut> => {
    const r = opsc("diff", base, heads.get(name)!, "--repo", dir, "--at", AT, "--format", "json");
    const parsed = JSON.parse(r.out) as { jobs: JobOut[] };
    return new Map(parsed.jobs.map((j) => [j.id, j]));
  };

  it("a target added shows in every job that selects it, and only there", () => {
    const jobs = jobsOf("target-added");
    expect(jobs.get("patch-web")?.targets).toMatchObject({ added: ["web-5"], before: 3, after: 4 });
    expect(jobs.get("fleet-health")?.targets.added).toEqual(["web-5"]);
    expect(jobs.get("db-backup")?.change).toBe("unchanged");
  });

  it("a step input change names the input with its old and new value", () => {
    const step = jobsOf("step-input-changed").get("patch-web")?.steps[0];
    expect(step?.id).toBe("install");
    expect(step?.fields).toEqual([
      { path: "with.packages", before: ["${{ inputs.package }}"], after: ["${{ inputs.package }}", "curl"] },
      { path: "with.update_cache", after: false },
    ]);
  });

  it("a changed library script reaches every job that uses the step", () => {
    const jobs = jobsOf("library-script-changed");
    expect(jobs.get("patch-web")?.library).toMatchObject([{ id: "apt/install", fields: [{ path: "run" }] }]);
    expect(jobs.get("db-backup")?.change).toBe("unchanged");
  });

  it("a schedule change gives the next fire times before and after, in the schedule's zone", () => {
    const [s] = jobsOf("schedule-changed").get("db-backup")!.schedules;
    // 01:15 New York on Nov 22 (EST, UTC-5) is 06:15Z, already past at 08:00Z: next is the 23rd.
    expect(s?.before?.next[0]).toBe("2026-11-23T06:15:00.000Z");
    // 02:45 on weekdays: Nov 22 2026 is a Sunday, so Monday the 23rd.
    expect(s?.after?.next[0]).toBe("2026-11-23T07:45:00.000Z");
    expect(s?.after?.next[1]).toBe("2026-11-24T07:45:00.000Z");
  });

  it("a credential reference added is reported by name only", () => {
    const r = opsc(
      "diff",
      base,
      heads.get("credential-added")!,
      "--repo",
      dir,
      "--at",
      AT,
      "--format",
      "json",
    );
    const jobs = new Map((JSON.parse(r.out) as { jobs: JobOut[] }).jobs.map((j) => [j.id, j]));
    expect(jobs.get("fleet-health")?.credentials).toEqual({ added: ["prod/db.password"], removed: [] });
    // The encrypted value never appears: the diff reads the model, not the file's ciphertext.
    expect(r.out).not.toMatch(/ENC\[/);
  });

  it("a commit with no change to the repository shows every job unchanged", () => {
    const r = opsc("diff", base, base, "--repo", dir, "--at", AT);
    expect(r.status).toBe(0);
    expect(r.out).toContain("0 jobs affected, 5 unchanged");
  });

  it("reports an unknown commit as a user error without a stack trace", () => {
    const r = opsc("diff", base, "f".repeat(40), "--repo", dir);
    expect(r.status).toBe(3);
    expect(r.err).toMatch(/no branch, tag or commit "f{40}"/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("refuses a bad --at time as a usage error", () => {
    const r = opsc("diff", base, base, "--repo", dir, "--at", "next tuesday");
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/--at next tuesday: not a date/);
  });
});
