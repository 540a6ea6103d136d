import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { generateRecordsBranch } from "../runner/bench/commit-back.ts";
import { commitRecord } from "../runner/src/records/commit-record.ts";
import { startGitHttpServer } from "../runner/test/helpers/git-http-server.ts";
const root = fs.mkdtempSync("/tmp/h4/pc-");
const s = await startGitHttpServer({ root });
for (const [files, commits] of [[100, 10], [10000, 1000], [100000, 10000]] as const) {
  const gen = `${root}/gen-${commits}.git`;
  await generateRecordsBranch(gen, files, commits);
  execFileSync("git", ["--git-dir", gen, "push", "-q", "--force", s.bareDir, "opsconductor/runs"]);
  const local = `${root}/local-${commits}`;
  execFileSync("git", ["init", "-q", local]);
  execFileSync("git", ["-C", local, "remote", "add", "origin", s.url]);
  execFileSync("git", ["-C", local, "fetch", "-q", gen, "opsconductor/runs:opsconductor/runs", "opsconductor/runs:refs/remotes/origin/opsconductor/runs"]);
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    const r = await commitRecord({ repoDir: local, settings: { records: { branch: "opsconductor/runs", push: true } }, summary: { id: `20300101T00000${k}Z-x-${commits}`, job: "x", result: "success", startedAt: "2030-01-01T00:00:00Z", finishedAt: "2030-01-01T00:00:01Z", trigger: { kind: "manual", actor: "a" }, actor: "a", inputs: {}, checkMode: false, targets: [], counts: { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 } }, logs: {} });
    console.log(commits, r.push.status, (performance.now() - t).toFixed(0), "ms");
  }
}
await s.close();
