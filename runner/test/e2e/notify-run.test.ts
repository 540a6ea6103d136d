/**
 * A job's `notify:` reaches a real HTTP receiver on loopback when the job runs
 * through executeJob (the path every door takes), and what was sent is kept in
 * the run's record. A failing run notifies `failure`; the next good run `recovered`.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob } from "../../src/app/execute-job.js";
import { git, TestRepo } from "../helpers/automation-repo.js";
import { startReceiver, type Receiver } from "../notify/http-receiver.js";

let repo: TestRepo;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver(() => ({ status: 204 }));
  repo = new TestRepo("opsc-notify-run-");
});
afterAll(async () => {
  await receiver?.close();
  if (repo) rmSync(repo.dir, { recursive: true, force: true });
});

function files(run: string): Record<string, string> {
  return {
    "opsconductor.yaml": "name: notify\n",
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    "jobs/deploy.yaml": [
      "targets: { names: [here] }",
      "notify:",
      `  - { on: [failure, recovered], webhook: { url: "${receiver.url}/hook" } }`,
      "steps:",
      `  - run: ${JSON.stringify(run)}`,
      "",
    ].join("\n"),
  };
}

async function run(): Promise<string> {
  const { summary } = await executeJob({
    repoDir: repo.dir,
    job: "deploy",
    inputs: {},
    trigger: { kind: "manual", actor: "tester" },
    push: false,
  });
  return summary.id;
}

describe("notifications from a run", () => {
  it("sends failure, then recovered, and records what was sent", async () => {
    repo.commit(files("exit 1"));
    const failed = await run();
    expect(receiver.received).toHaveLength(1);
    const first = JSON.parse(receiver.received[0]!.body) as { event: string; run: { id: string } };
    expect(first.event).toBe("failure");
    expect(receiver.received[0]!.url).toBe("/hook");

    repo.commit(files("true"));
    const good = await run();
    expect(receiver.received).toHaveLength(2);
    expect(JSON.parse(receiver.received[1]!.body)).toMatchObject({ event: "recovered" });

    for (const id of [failed, good]) {
      const [y, m, d] = [id.slice(0, 4), id.slice(4, 6), id.slice(6, 8)];
      const runJson = JSON.parse(
        git(repo.dir, "show", `opsconductor/runs:runs/${y}/${m}/${d}/${id}/run.json`),
      ) as {
        notifications?: Array<{ event: string; ok: boolean }>;
      };
      expect(runJson.notifications).toEqual([
        expect.objectContaining({ event: id === failed ? "failure" : "recovered", ok: true }),
      ]);
    }
  });
});
