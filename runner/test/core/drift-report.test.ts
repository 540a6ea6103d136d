import { describe, expect, it } from "vitest";
import {
  buildDriftReport,
  parseCopyOutput,
  renderDriftMarkdown,
  renderDriftText,
} from "../../src/core/drift-report.js";
import type { RunSummary, TargetSummary } from "../../src/core/run-summary.js";
import type { Plan } from "../../src/core/plan-model.js";

const plan = {
  phases: [{ name: "main", steps: [{ id: "conf", copy: {} }, { id: "pkg" }] }],
} as unknown as Pick<Plan, "phases">;

function summary(targets: TargetSummary[], result: RunSummary["result"] = "success"): RunSummary {
  return {
    id: "20261126T130000Z-site-abcd",
    job: "site",
    result,
    startedAt: "2026-11-26T13:00:00.000Z",
    finishedAt: "2026-11-26T13:00:05.000Z",
    trigger: { kind: "manual", actor: "ann" },
    actor: "ann",
    sourceCommit: "a".repeat(40),
    inputs: {},
    checkMode: true,
    targets,
    counts: { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 },
  };
}

const target = (
  name: string,
  outcome: TargetSummary["outcome"],
  steps: TargetSummary["steps"],
): TargetSummary => ({
  name,
  phase: "main",
  outcome,
  ms: 10,
  steps,
});

const CONF_OUTPUT = [
  "/etc/app.conf: would change (content, mode 600 -> 644)",
  "--- /etc/app.conf",
  "+++ /etc/app.conf",
  "@@ -1 +1 @@",
  "-port=9999",
  "+port=8080",
  "/etc/token: would change (content)",
  "/etc/token: diff not shown (secret content)",
  "/etc/owned: would change (owner nobody -> root)",
];

describe("parseCopyOutput", () => {
  it("splits a copy step's check output into files: diff, secret (no diff), metadata only", () => {
    expect(parseCopyOutput(CONF_OUTPUT)).toEqual([
      {
        path: "/etc/app.conf",
        change: "content, mode 600 -> 644",
        diff: "--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1 +1 @@\n-port=9999\n+port=8080\n",
      },
      { path: "/etc/token", change: "content", secret: true },
      { path: "/etc/owned", change: "owner nobody -> root" },
    ]);
  });
});

describe("buildDriftReport", () => {
  const output = (t: string, s: string) =>
    t === "web-a" && s === "conf" ? CONF_OUTPUT : t === "web-a" && s === "pkg" ? ["nginx 1.24 -> 1.26"] : [];

  it("names the drifted target with its steps and files, the others clean, and lists steps it could not check", () => {
    const report = buildDriftReport({
      plan,
      output,
      summary: summary([
        target("web-a", "changed", [
          { id: "conf", outcome: "changed", ms: 1, attempts: 1, reason: "would change" },
          {
            id: "pkg",
            outcome: "changed",
            ms: 1,
            attempts: 1,
            reason: "would change (check exited non-zero)",
          },
        ]),
        target("web-b", "ok", [
          { id: "conf", outcome: "ok", ms: 1, attempts: 1 },
          {
            id: "pkg",
            outcome: "skipped",
            ms: 0,
            attempts: 0,
            reason: "no check script; --check runs nothing else",
          },
        ]),
      ]),
    });
    expect(report.status).toBe("drift");
    expect(report.counts).toEqual({ drift: 1, clean: 1, error: 0 });
    expect(report.targets[0]).toMatchObject({
      name: "web-a",
      status: "drift",
      steps: [
        { id: "conf", files: parseCopyOutput(CONF_OUTPUT) },
        { id: "pkg", output: ["nginx 1.24 -> 1.26"] },
      ],
    });
    expect(report.targets[1]).toEqual({
      name: "web-b",
      status: "clean",
      outcome: "ok",
      steps: [],
      unchecked: ["pkg"],
    });
    const md = renderDriftMarkdown(report);
    expect(md).toContain("| web-a | drift | conf, pkg |");
    expect(md).toContain("| web-b | clean |  |");
    expect(md).toContain("```diff\n--- /etc/app.conf");
    expect(md).toContain("`/etc/token`: content (secret content: diff not shown)");
    expect(md).toContain("- web-b: pkg");
    expect(renderDriftText(report)).toContain("site: drift on 1 of 2 target(s): web-a");
    // A terminal names the steps nobody looked at too: "clean" is not "checked".
    expect(renderDriftText(report)).toMatch(/not checked \(no `check` script.*\n {2}web-b +pkg/);
  });

  it("is clean only when every target was checked; an unreachable target makes it incomplete", () => {
    const ok = target("web-b", "ok", [{ id: "conf", outcome: "ok", ms: 1, attempts: 1 }]);
    expect(buildDriftReport({ plan, output, summary: summary([ok]) }).status).toBe("clean");
    const down = { ...target("web-c", "unreachable", []), reason: "connection refused" };
    const report = buildDriftReport({ plan, output, summary: summary([ok, down], "failure") });
    expect(report.status).toBe("incomplete");
    expect(report.targets[1]).toMatchObject({ status: "error", reason: "connection refused" });
    expect(renderDriftMarkdown(report)).toContain("| web-c | error | connection refused |");
  });

  it("a diff holding backticks cannot close the markdown fence around it", () => {
    const lines = ["/doc.md: would change (content)", "-```", "+````"];
    const report = buildDriftReport({
      plan,
      output: () => lines,
      summary: summary([target("w", "changed", [{ id: "conf", outcome: "changed", ms: 1, attempts: 1 }])]),
    });
    expect(renderDriftMarkdown(report)).toContain("`````diff\n-```\n+````\n`````");
  });
});
