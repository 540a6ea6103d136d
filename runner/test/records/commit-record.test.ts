import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { afterAll, describe, expect, it } from "vitest";
import runSchema from "../../../schema/run.schema.json" with { type: "json" };
import type { RunSummary } from "../../src/core/run-summary.js";
import { commitRecord } from "../../src/records/commit-record.js";
import { renderRunJson } from "../../src/records/render-run-json.js";
import { RunJournal } from "../../src/records/journal.js";
import { openRecords, readRun, verifyRecords, listRuns } from "../../src/records/records-branch.js";
import { RunRecorder } from "../../src/records/run-recorder.js";
import { runPlan } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { LocalTransport } from "../../src/transports/local-transport.js";
import { assertNoCanary, CANARY, plantCanaries } from "../helpers/canary.js";
import { localTarget, simplePlan, step } from "../helpers/plan-fixture.js";

// ajv-formats ships CommonJS; its default export is the function under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;
const validateRun = addFormats(new Ajv2020({ strict: true, allErrors: true })).compile(runSchema);

const scratch = mkdtempSync(join(tmpdir(), "opsc-records-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const settings = { records: { branch: "opsconductor/runs", push: false } };
const BRANCH = "opsconductor/runs";

function newRepo(name: string): string {
  const dir = join(scratch, name);
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  return dir;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" });
}

async function recordOneRun(repoDir: string, job = "patch-web", env: NodeJS.ProcessEnv = process.env) {
  const redactor = new Redactor();
  const secrets = plantCanaries(redactor);
  const plan = simplePlan(
    [localTarget("web-1"), localTarget("web-2")],
    [
      step("install", { run: 'echo "token is $CANARY_TOKEN"; printf "%s" "$CANARY_KEY"' }),
      step("fail-on-2", {
        run: '[ "$(hostname)" = never ] || [ "$T" != web-2 ]',
        env: { T: "${{ target.name }}" },
      }),
    ],
    {
      job,
      inputs: { package: "nginx" },
      commit: "a".repeat(40),
      trigger: { kind: "manual", actor: "alice" },
    },
  );
  const recorder = new RunRecorder(plan, undefined, redactor);
  const journal = new RunJournal(repoDir, plan, redactor, env);
  await runPlan(plan, {
    transportFor: (t) => new LocalTransport(t.name),
    redactor,
    secrets,
    listeners: [recorder.listener, journal.listener],
  });
  const journalText = readFileSync(journal.path ?? "", "utf8");
  const result = await commitRecord({
    repoDir,
    settings,
    summary: recorder.summary(),
    logs: recorder.targetLogs(),
    redactor,
    env,
  });
  journal.complete();
  return { result, recorder, journalText };
}

describe("commitRecord", () => {
  it("writes run.json, README.md, one log per target and a chained audit line on an orphan branch", async () => {
    const repo = newRepo("layout");
    const { result, journalText } = await recordOneRun(repo);
    expect(result.push.status).toBe("skipped");
    const files = git(repo, "ls-tree", "-r", "--name-only", BRANCH).trim().split("\n");
    const dir = result.path;
    expect(dir).toMatch(/^runs\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-patch-web-[0-9a-f]{4}$/);
    expect(files.sort()).toEqual(
      [
        `${dir}/README.md`,
        `${dir}/run.json`,
        `${dir}/targets/web-1.log`,
        `${dir}/targets/web-2.log`,
        expect.stringMatching(/^audit\/\d{4}\/\d{2}\.jsonl$/),
      ].sort(),
    );
    // Orphan: the records branch shares nothing with main.
    expect(git(repo, "rev-list", "--count", BRANCH).trim()).toBe("1");
    git(repo, "fsck", "--strict", "--no-dangling");
    const message = git(repo, "log", "-1", "--format=%B", BRANCH);
    expect(message).toMatch(new RegExp(`^run ${result.runId}: patch-web failure \\(1/2\\)\n`));
    expect(git(repo, "log", "-1", "--format=%(trailers:key=Opsc-Job,valueonly)", BRANCH).trim()).toBe(
      "patch-web",
    );
    expect(
      git(repo, "log", "-1", "--format=%(trailers:key=Opsc-Source-Commit,valueonly)", BRANCH).trim(),
    ).toBe("a".repeat(40));
    expect(git(repo, "log", "-1", "--format=%(trailers:key=Opsc-Trigger,valueonly)", BRANCH).trim()).toBe(
      "manual alice",
    );

    const run = JSON.parse(git(repo, "show", `${BRANCH}:${dir}/run.json`)) as Record<string, unknown>;
    expect(run).toMatchObject({
      id: result.runId,
      job: "patch-web",
      result: "failure",
      actor: "alice",
      inputs: { package: "nginx" },
    });
    expect(run.counts).toMatchObject({ ok: 0, changed: 1, failed: 1 });
    expect(validateRun(run), JSON.stringify(validateRun.errors)).toBe(true);
    expect(validateRun({ ...run, result: "exploded" })).toBe(false);
    const readme = git(repo, "show", `${BRANCH}:${dir}/README.md`);
    expect(readme).toContain("| [web-2](targets/web-2.log) | ❌ failed");
    expect(readme).toMatch(/\| Target \| Outcome \| `install` \| `fail-on-2` \|/);
    const log1 = git(repo, "show", `${BRANCH}:${dir}/targets/web-1.log`);
    expect(log1).toContain("token is ***");

    // Secrets never: not in any blob of the branch, not in the journal in the state dir.
    for (const f of files) assertNoCanary(git(repo, "show", `${BRANCH}:${f}`), f);
    assertNoCanary(journalText, "the journal");
    expect(readdirSync(join(repo, ".git", "opsconductor", "journal"))).toEqual([]);
  });

  it("chains each audit line to the sha256 of the one before, and verification passes", async () => {
    const repo = newRepo("chain");
    const first = await recordOneRun(repo, "a-job");
    const second = await recordOneRun(repo, "b-job");
    const auditPath = git(repo, "ls-tree", "-r", "--name-only", BRANCH, "audit").trim();
    const lines = git(repo, "show", `${BRANCH}:${auditPath}`).trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    const [l1, l2] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(l1).toMatchObject({
      seq: 1,
      prev: "0".repeat(64),
      run: first.result.runId,
      actor: "alice",
      sourceCommit: "a".repeat(40),
    });
    expect(l2).toMatchObject({ seq: 2, run: second.result.runId });
    expect(l2?.prev).toBe(
      createHash("sha256")
        .update(lines[0] ?? "")
        .digest("hex"),
    );
    expect(l2?.record).toBe(
      createHash("sha256")
        .update(git(repo, "show", `${BRANCH}:${second.result.path}/run.json`))
        .digest("hex"),
    );
    const src = await openRecords(repo, BRANCH);
    expect(src).not.toBeNull();
    if (!src) return;
    expect(await verifyRecords(src)).toMatchObject({ ok: true, lines: 2 });
    expect((await listRuns(src)).map((r) => r.id)).toEqual([second.result.runId, first.result.runId]);
    expect((await listRuns(src, { job: "a-job" })).map((r) => r.id)).toEqual([first.result.runId]);
    expect((await readRun(src, first.result.runId))?.summary.job).toBe("a-job");
  });

  it("does not write the same run twice", async () => {
    const repo = newRepo("twice");
    const { result, recorder } = await recordOneRun(repo);
    const again = await commitRecord({
      repoDir: repo,
      settings,
      summary: recorder.summary(),
      logs: recorder.targetLogs(),
    });
    expect(again.existed).toBe(true);
    expect(again.commit).toBe(result.commit);
    expect(git(repo, "rev-list", "--count", BRANCH).trim()).toBe("1");
  });

  it("writes through git's own ref lock: a held lock makes it wait, not overwrite", async () => {
    const repo = newRepo("locked");
    await recordOneRun(repo, "first");
    const lock = join(repo, ".git", "refs", "heads", "opsconductor", "runs.lock");
    writeFileSync(lock, "");
    const pending = recordOneRun(repo, "second");
    await new Promise((r) => setTimeout(r, 300));
    expect(git(repo, "rev-list", "--count", BRANCH).trim()).toBe("1");
    rmSync(lock);
    await pending;
    expect(git(repo, "rev-list", "--count", BRANCH).trim()).toBe("2");
  });
});

describe("run.json", () => {
  it("keeps shard groups and notifications, and validates against schema/run.schema.json", () => {
    const summary: RunSummary = {
      id: "20261122T031500Z-patch-web-7f3a",
      job: "patch-web",
      result: "success",
      startedAt: "2026-11-22T03:15:00.000Z",
      finishedAt: "2026-11-22T03:15:01.000Z",
      trigger: { kind: "push", actor: "github:alice", detail: { ref: "refs/heads/main" } },
      actor: "github:alice",
      inputs: {},
      checkMode: false,
      shard: { index: 2, count: 4, group: "12345-1" },
      targets: [],
      counts: { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 },
      notifications: [
        { event: "success", channel: "webhook", to: "https://hooks.example", ok: true, attempts: 1, ms: 12 },
      ],
    };
    const run = JSON.parse(renderRunJson(summary)) as Record<string, unknown>;
    expect(run.shard).toEqual({ index: 2, count: 4, group: "12345-1" });
    expect(run.notifications).toEqual(summary.notifications);
    expect(validateRun(run), JSON.stringify(validateRun.errors)).toBe(true);
  });
});

describe("audit verification", () => {
  async function tamper(name: string, change: (worktree: string) => void): Promise<string> {
    const repo = newRepo(name);
    await recordOneRun(repo, "one");
    await recordOneRun(repo, "two");
    await recordOneRun(repo, "three");
    const wt = join(scratch, `${name}-wt`);
    git(repo, "worktree", "add", "-q", wt, BRANCH);
    change(wt);
    git(wt, "add", "-A");
    git(wt, "-c", "user.name=mallory", "-c", "user.email=m@example.com", "commit", "-qm", "edit");
    return repo;
  }

  function auditFileIn(wt: string): string {
    const year = readdirSync(join(wt, "audit"))[0] ?? "";
    const month = readdirSync(join(wt, "audit", year))[0] ?? "";
    return join(wt, "audit", year, month);
  }

  it("reports the first broken line when an audit line was changed", async () => {
    let path = "";
    const repo = await tamper("changed-line", (wt) => {
      const file = auditFileIn(wt);
      path = file.slice(wt.length + 1);
      const lines = readFileSync(file, "utf8").split("\n");
      lines[0] = (lines[0] ?? "").replace('"actor":"alice"', '"actor":"bob"');
      writeFileSync(file, lines.join("\n"));
    });
    const src = await openRecords(repo, BRANCH);
    const v = src ? await verifyRecords(src) : null;
    expect(v?.ok).toBe(false);
    expect(v?.firstBreak).toEqual({
      file: path,
      line: 2,
      message: expect.stringContaining("a line before it was changed or removed"),
    });
  });

  it("reports an edit of the newest line, which no later line vouches for", async () => {
    const repo = await tamper("changed-last", (wt) => {
      const file = auditFileIn(wt);
      const lines = readFileSync(file, "utf8").split("\n");
      lines[2] = (lines[2] ?? "").replace('"actor":"alice"', '"actor":"bob"');
      writeFileSync(file, lines.join("\n"));
    });
    const src = await openRecords(repo, BRANCH);
    const v = src ? await verifyRecords(src) : null;
    expect(v?.ok).toBe(false);
    expect(v?.firstBreak).toMatchObject({
      line: 3,
      message: expect.stringContaining("changed after it was committed"),
    });
  });

  it("reports a removed line", async () => {
    const repo = await tamper("removed-line", (wt) => {
      const file = auditFileIn(wt);
      const lines = readFileSync(file, "utf8").split("\n");
      lines.splice(1, 1);
      writeFileSync(file, lines.join("\n"));
    });
    const src = await openRecords(repo, BRANCH);
    const v = src ? await verifyRecords(src) : null;
    expect(v?.firstBreak?.line).toBe(2);
    expect(v?.firstBreak?.message).toMatch(/changed or removed/);
  });

  it("reports a run.json changed after the fact", async () => {
    const repo = await tamper("changed-run", (wt) => {
      const runJson =
        execFileSync("find", [join(wt, "runs"), "-name", "run.json"], { encoding: "utf8" })
          .trim()
          .split("\n")[0] ?? "";
      writeFileSync(
        runJson,
        readFileSync(runJson, "utf8").replace('"result": "failure"', '"result": "success"'),
      );
    });
    const src = await openRecords(repo, BRANCH);
    const v = src ? await verifyRecords(src) : null;
    expect(v?.ok).toBe(false);
    expect(v?.firstBreak?.message).toMatch(/run\.json of .* does not match the hash in its audit line/);
  });
});

describe("audit verification of every file of a run", () => {
  async function tamperRun(name: string, change: (runFolder: string) => void) {
    const repo = newRepo(name);
    await recordOneRun(repo, "one");
    await recordOneRun(repo, "two");
    const wt = join(scratch, `${name}-wt`);
    git(repo, "worktree", "add", "-q", wt, BRANCH);
    const folder = dirname(
      execFileSync("find", [join(wt, "runs"), "-name", "run.json"], { encoding: "utf8" })
        .trim()
        .split("\n")
        .sort()[0] ?? "",
    );
    change(folder);
    git(wt, "add", "-A");
    git(wt, "-c", "user.name=mallory", "-c", "user.email=m@example.com", "commit", "-qm", "tidy logs");
    const src = await openRecords(repo, BRANCH);
    return { v: src ? await verifyRecords(src) : null, run: folder.slice(wt.length + 1) };
  }

  it("is intact before anything is touched, and counts every line as covering all its files", async () => {
    const repo = newRepo("untouched-files");
    await recordOneRun(repo, "one");
    const src = await openRecords(repo, BRANCH);
    expect(src && (await verifyRecords(src))).toMatchObject({ ok: true, lines: 1, withoutManifest: 0 });
  });

  it("reports a target log edited after the fact", async () => {
    const { v, run } = await tamperRun("edited-log", (folder) => {
      const log = join(folder, "targets", "web-2.log");
      writeFileSync(log, readFileSync(log, "utf8").replace(/fail/g, "pass"));
    });
    expect(v?.ok).toBe(false);
    expect(v?.firstBreak).toEqual({
      file: `${run}/targets/web-2.log`,
      line: 0,
      message: expect.stringMatching(/changed after its audit line \(audit\/\d{4}\/\d{2}\.jsonl:1\)/),
    });
  });

  it("records a step whose check passed as ok (already done), counted with ok targets", async () => {
    const repo = newRepo("already-done");
    const redactor = new Redactor();
    const plan = simplePlan(
      [localTarget("web-1")],
      [
        step("present", { check: "true", run: "echo must-not-run" }),
        step("off", { run: "echo must-not-run", if: "${{ false }}" }),
      ],
      { job: "converge", trigger: { kind: "manual", actor: "alice" } },
    );
    const recorder = new RunRecorder(plan, undefined, redactor);
    await runPlan(plan, {
      transportFor: (t) => new LocalTransport(t.name),
      redactor,
      listeners: [recorder.listener],
    });
    const result = await commitRecord({
      repoDir: repo,
      settings,
      summary: recorder.summary(),
      logs: recorder.targetLogs(),
      redactor,
    });
    const run = JSON.parse(git(repo, "show", `${BRANCH}:${result.path}/run.json`)) as RunSummary;
    expect(validateRun(run), JSON.stringify(validateRun.errors)).toBe(true);
    expect(run.targets[0]).toMatchObject({
      outcome: "ok",
      steps: [
        { id: "present", outcome: "ok", exitCode: 0, reason: "check passed: already done" },
        { id: "off", outcome: "skipped" },
      ],
    });
    expect(run.counts).toMatchObject({ ok: 1, skipped: 0, changed: 0 });
    expect(git(repo, "log", "-1", "--format=%s", BRANCH)).toMatch(/: converge success \(1\/1\)$/m);
    const readme = git(repo, "show", `${BRANCH}:${result.path}/README.md`);
    expect(readme).toContain("Targets: ✅ 1 ok");
    expect(readme).toMatch(/\| \[web-1\]\(targets\/web-1\.log\) \| ✅ ok [^|]*\| ✅ ok [^|]*\| ⏭️ skipped/);
    const log = git(repo, "show", `${BRANCH}:${result.path}/targets/web-1.log`);
    expect(log).toContain("step present ok");
    expect(log).not.toContain("must-not-run");
  });

  it("reports a target log deleted", async () => {
    const { v, run } = await tamperRun("deleted-log", (folder) => {
      rmSync(join(folder, "targets", "web-1.log"));
    });
    expect(v?.ok).toBe(false);
    expect(v?.firstBreak).toMatchObject({
      file: `${run}/targets/web-1.log`,
      message: expect.stringMatching(/removed after its audit line/),
    });
  });

  it("reports a file added to a run folder", async () => {
    const { v, run } = await tamperRun("added-log", (folder) => {
      writeFileSync(join(folder, "targets", "web-3.log"), "all fine here\n");
    });
    expect(v?.ok).toBe(false);
    expect(v?.firstBreak).toMatchObject({
      file: `${run}/targets/web-3.log`,
      message: expect.stringMatching(/added after its audit line/),
    });
  });

  it("reports an edited README", async () => {
    const { v, run } = await tamperRun("edited-readme", (folder) => {
      writeFileSync(join(folder, "README.md"), "nothing to see\n");
    });
    expect(v?.firstBreak).toMatchObject({ file: `${run}/README.md` });
  });
});

describe("canary", () => {
  it("the planted value really went through the run (so the leak checks above can fail)", async () => {
    const repo = newRepo("canary");
    const { recorder } = await recordOneRun(repo);
    const logs = [...recorder.targetLogs().values()].join("\n");
    expect(logs).toContain("token is ***");
    expect(logs).not.toContain(CANARY);
    expect(() => assertNoCanary(`x ${CANARY} y`, "a sample")).toThrow(/leaked into a sample/);
  });
});
