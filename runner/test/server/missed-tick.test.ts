import { afterAll, describe, expect, it } from "vitest";
import { notifyRun } from "../../src/notify/notifier.js";
import { missedTickSummary, recordMissedTick } from "../../src/records/missed-tick.js";
import { runDir } from "../../src/records/record-paths.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { startReceiver } from "../notify/http-receiver.js";
import { BASE_FILES, git, TestRepo } from "../helpers/automation-repo.js";

const repo = new TestRepo();
repo.commit(BASE_FILES);
afterAll(() => repo.remove());

const tick = {
  job: "backup",
  cron: "*/5 * * * *",
  timezone: "UTC",
  at: "2026-01-01T00:15:00.000Z",
  catchUp: "none",
  sourceCommit: "a".repeat(40),
};

describe("missed ticks in the audit trail", () => {
  it("is a record with no targets whose trigger says missed, and why", () => {
    const s = missedTickSummary(tick, new Date("2026-01-01T00:32:00Z"));
    expect(s.id).toMatch(/^20260101T001500Z-backup-[0-9a-f]{4}$/);
    expect(s.targets).toEqual([]);
    expect(s.trigger).toMatchObject({
      kind: "schedule",
      detail: { missed: "true", tick: tick.at, catchUp: "none" },
    });
    expect(s.trigger.detail?.reason).toMatch(/not fired on time/);
  });

  it("appends a hash-chained audit line on the records branch", async () => {
    const env = { ...process.env, OPSC_STATE_DIR: "" };
    const first = await recordMissedTick(
      repo.dir,
      { records: { branch: "opsconductor/runs", push: false } },
      tick,
      { env },
    );
    const second = await recordMissedTick(
      repo.dir,
      { records: { branch: "opsconductor/runs", push: false } },
      { ...tick, at: "2026-01-01T00:20:00.000Z" },
      { env },
    );
    const audit = git(
      repo.dir,
      "show",
      "opsconductor/runs:audit/" +
        new Date().toISOString().slice(0, 4) +
        "/" +
        new Date().toISOString().slice(5, 7) +
        ".jsonl",
    );
    const lines = audit.split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.run)).toEqual([first.runId, second.runId]);
    expect(lines[1]!.seq).toBe(2);
    expect(lines[0]!.trigger).toMatchObject({ detail: { missed: "true" } });
  });

  it("tells the job's notify: of a missed tick and keeps what was sent in the record", async () => {
    const receiver = await startReceiver(() => ({ status: 204 }));
    try {
      const r = await recordMissedTick(
        repo.dir,
        { records: { branch: "opsconductor/runs", push: false } },
        { ...tick, at: "2026-01-01T00:25:00.000Z" },
        {
          env: { ...process.env, OPSC_STATE_DIR: "" },
          notify: (summary) =>
            notifyRun([{ on: ["missed"], webhook: { url: `${receiver.url}/missed` } }], summary, {
              redactor: new Redactor(),
              github: null,
            }),
        },
      );
      expect(receiver.received).toHaveLength(1);
      expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ event: "missed" });
      const runJson = JSON.parse(git(repo.dir, "show", `opsconductor/runs:${runDir(r.runId)}/run.json`)) as {
        notifications?: unknown[];
      };
      expect(runJson.notifications).toEqual([expect.objectContaining({ event: "missed", ok: true })]);
    } finally {
      await receiver.close();
    }
  });
});
