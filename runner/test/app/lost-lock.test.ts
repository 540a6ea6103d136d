/**
 * A run that loses a target's lock mid-run (its renewal finds the lock ref
 * moved: another run took it after this one stalled) starts no further step
 * there, not even an `if: always()` one, and records why. Real local locks,
 * moved behind the run's back with `git update-ref` as another holder would.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { executeJob } from "../../src/app/execute-job.js";
import { lockRef } from "../../src/app/target-locks.js";
import { BASE_FILES, git, TestRepo } from "../helpers/automation-repo.js";
import { scratchFolders } from "../helpers/scratch.js";

const { tmp, adopt } = scratchFolders();
const repo = new TestRepo("opsc-lost-lock-");
adopt(repo.dir);
const work = tmp("opsc-lost-lock-work-");

describe("a lock lost mid-run", () => {
  it("stops the target before its next step and records the loss", async () => {
    const head = repo.commit({
      ...BASE_FILES,
      "jobs/long.yaml": [
        "targets: { names: [here] }",
        "steps:",
        "  - { id: first, run: sleep 3 }",
        `  - { id: second, run: 'touch "${work}/second"' }`,
        `  - { id: cleanup, if: always(), run: 'touch "${work}/cleanup"' }`,
        "",
      ].join("\n"),
    });
    const { summary } = await executeJob({
      repoDir: repo.dir,
      job: "long",
      inputs: {},
      trigger: { kind: "manual", actor: "test", by: { name: "test", via: "cli" } },
      push: false,
      // Renewed every second: the move below is found while `first` still runs.
      env: { PATH: process.env.PATH, HOME: work, OPSC_LEASE_SECONDS: "3" },
      listeners: [
        (e) => {
          // Another holder takes the lock while `first` runs.
          if (e.type === "step.started" && e.step === "first")
            git(repo.dir, "update-ref", lockRef("here"), head);
        },
      ],
    });
    const target = summary.targets[0]!;
    expect(target.outcome).toBe("failed");
    expect(target.reason).toMatch(
      /^lost the lock on here: the lease refs\/opsconductor\/locks\/here was taken/,
    );
    expect(target.steps.map((s) => [s.id, s.outcome])).toEqual([
      ["first", "changed"],
      ["second", "skipped"],
      ["cleanup", "skipped"],
    ]);
    expect(target.steps[1]!.reason).toMatch(/^not started: the lease .* was taken by another holder/);
    expect(target.lock).toMatchObject({ result: "acquired", lost: true });
    expect(existsSync(join(work, "second"))).toBe(false);
    expect(existsSync(join(work, "cleanup"))).toBe(false);
    expect(summary.result).toBe("failure");
  }, 30_000);
});
