import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/server/clock.js";
import { decideTicks, ticksBetween } from "../../src/server/schedule-ticks.js";
import { Scheduler, type ScheduledTick } from "../../src/server/scheduler.js";
import { jobYaml, modelFrom } from "../helpers/automation-repo.js";

const iso = (ticks: readonly Date[]) => ticks.map((d) => d.toISOString());

describe("ticksBetween", () => {
  it("lists ticks in (after, until], inclusive of a tick exactly at until", () => {
    const t = ticksBetween(
      { cron: "*/5 * * * *", timezone: "UTC" },
      new Date("2026-01-01T00:00:00Z"),
      new Date("2026-01-01T00:15:00Z"),
    );
    expect(iso(t)).toEqual([
      "2026-01-01T00:05:00.000Z",
      "2026-01-01T00:10:00.000Z",
      "2026-01-01T00:15:00.000Z",
    ]);
  });

  it("follows the IANA time zone across a daylight-saving change", () => {
    // 03:00 Berlin is 02:00Z in winter and 01:00Z in summer (DST starts 2026-03-29).
    const t = ticksBetween(
      { cron: "0 3 * * 1", timezone: "Europe/Berlin" },
      new Date("2026-03-20T00:00:00Z"),
      new Date("2026-04-07T00:00:00Z"),
    );
    expect(iso(t)).toEqual([
      "2026-03-23T02:00:00.000Z",
      "2026-03-30T01:00:00.000Z",
      "2026-04-06T01:00:00.000Z",
    ]);
  });
});

describe("decideTicks", () => {
  const now = new Date("2026-01-01T01:00:00Z");
  const ticks = ["00:20", "00:40", "01:00"].map((t) => new Date(`2026-01-01T${t}:00Z`));
  it("marks late ticks missed and runs only the on-time one with catch-up none", () => {
    const d = decideTicks(ticks, now, 60_000, "none");
    expect(iso(d.missed)).toEqual(["2026-01-01T00:20:00.000Z", "2026-01-01T00:40:00.000Z"]);
    expect(d.run.map((r) => [r.at.toISOString(), r.late])).toEqual([["2026-01-01T01:00:00.000Z", false]]);
  });
  it("catch-up all runs every missed tick, oldest first", () => {
    expect(decideTicks(ticks, now, 60_000, "all").run).toHaveLength(3);
  });
  it("catch-up latest runs the newest missed tick only when no tick is on time", () => {
    const late = ticks.slice(0, 2);
    expect(decideTicks(late, now, 60_000, "latest").run.map((r) => r.at.toISOString())).toEqual([
      "2026-01-01T00:40:00.000Z",
    ]);
    expect(decideTicks(ticks, now, 60_000, "latest").run).toHaveLength(1);
  });
});

function scheduler(clock: ManualClock, state: { saved?: Record<string, string> } = {}) {
  const fired: ScheduledTick[] = [];
  const missed: string[] = [];
  const s = new Scheduler({
    clock,
    load: () => state.saved,
    save: (v) => (state.saved = { ...v }),
    fire: (t) => void fired.push(t),
    missed: (t) => void missed.push(`${t.job}@${t.at.toISOString()}`),
    toleranceMs: 60_000,
  });
  return { s, fired, missed, state };
}

const model = (catchUp: string, cron = "*/10 * * * *") =>
  modelFrom({
    "jobs/backup.yaml": jobYaml(
      `on:\n  schedule: [{ cron: "${cron}", timezone: UTC, catch_up: ${catchUp} }]`,
    ),
  });

describe("Scheduler under a manual clock", () => {
  it("fires each tick once when woken on time, and nothing between ticks", async () => {
    const clock = new ManualClock("2026-01-01T00:00:30Z");
    const { s, fired, missed } = scheduler(clock);
    await s.register(model("none").jobs.values());
    clock.set("2026-01-01T00:10:00Z");
    await s.reconcile();
    await s.reconcile(); // a second wake-up for the same tick does nothing
    clock.set("2026-01-01T00:15:00Z");
    await s.reconcile();
    expect(fired.map((t) => [t.job, t.at.toISOString(), t.late])).toEqual([
      ["backup", "2026-01-01T00:10:00.000Z", false],
    ]);
    expect(missed).toEqual([]);
  });

  it("after downtime, records every missed tick and follows catch-up latest", async () => {
    const state: { saved?: Record<string, string> } = {};
    const clock = new ManualClock("2026-01-01T00:00:30Z");
    const first = scheduler(clock, state);
    await first.s.register(model("latest").jobs.values());
    await first.s.stop();
    // The runner was down 00:00:30 -> 00:35:20; a new process starts from the saved state.
    clock.set("2026-01-01T00:35:20Z");
    const second = scheduler(clock, state);
    await second.s.register(model("latest").jobs.values());
    await second.s.reconcile();
    expect(second.missed).toEqual([
      "backup@2026-01-01T00:10:00.000Z",
      "backup@2026-01-01T00:20:00.000Z",
      "backup@2026-01-01T00:30:00.000Z",
    ]);
    expect(second.fired.map((t) => [t.at.toISOString(), t.late])).toEqual([
      ["2026-01-01T00:30:00.000Z", true],
    ]);
  });

  it("a tick seen late because the process was busy is missed; catch-up none runs nothing", async () => {
    const clock = new ManualClock("2026-01-01T00:00:00Z");
    const { s, fired, missed } = scheduler(clock);
    await s.register(model("none").jobs.values());
    clock.set("2026-01-01T00:12:00Z"); // woken two minutes after the 00:10 tick
    await s.reconcile();
    expect(missed).toEqual(["backup@2026-01-01T00:10:00.000Z"]);
    expect(fired).toEqual([]);
  });

  it("a job's drift.schedule is a schedule of its own, even on the same cron as its run schedule", async () => {
    const clock = new ManualClock("2026-01-01T00:00:30Z");
    const { s, fired, missed } = scheduler(clock);
    const jobs = modelFrom({
      "jobs/backup.yaml": jobYaml(
        'on:\n  schedule: [{ cron: "*/10 * * * *" }]\ndrift: { schedule: "*/10 * * * *" }',
      ),
    }).jobs.values();
    await s.register(jobs);
    expect(s.registered.map((r) => [r.job, r.cron, r.drift === true])).toEqual([
      ["backup", "*/10 * * * *", false],
      ["backup", "*/10 * * * *", true],
    ]);
    clock.set("2026-01-01T00:10:00Z");
    await s.reconcile();
    expect(fired.map((t) => [t.job, t.at.toISOString(), t.drift === true])).toEqual([
      ["backup", "2026-01-01T00:10:00.000Z", false],
      ["backup", "2026-01-01T00:10:00.000Z", true],
    ]);
    // Late drift ticks are reported as missed like any (job-schedules.ts drops them without a record).
    clock.set("2026-01-01T00:32:00Z");
    await s.reconcile();
    expect(missed).toEqual([
      "backup@2026-01-01T00:20:00.000Z",
      "backup@2026-01-01T00:30:00.000Z",
      "backup@2026-01-01T00:20:00.000Z",
      "backup@2026-01-01T00:30:00.000Z",
    ]);
  });

  it("an edited schedule starts afresh: nothing is owed from before the edit", async () => {
    const clock = new ManualClock("2026-01-01T00:00:00Z");
    const { s, fired, missed } = scheduler(clock);
    await s.register(model("all").jobs.values());
    clock.set("2026-01-01T00:44:00Z");
    await s.register(model("all", "*/15 * * * *").jobs.values());
    clock.set("2026-01-01T00:45:00Z");
    await s.reconcile();
    expect(missed).toEqual([]);
    expect(iso(fired.map((t) => t.at))).toEqual(["2026-01-01T00:45:00.000Z"]);
  });

  it("keeps firing the other ticks when one fails, and reports the failure", async () => {
    const clock = new ManualClock("2026-01-01T00:00:00Z");
    const errors: string[] = [];
    const fired: string[] = [];
    const s = new Scheduler({
      clock,
      load: () => undefined,
      save: () => undefined,
      fire: (t) => {
        if (t.job === "a") throw new Error("remote unreachable");
        fired.push(t.job);
      },
      missed: () => undefined,
      onError: (e) => errors.push((e as Error).message),
    });
    const both = modelFrom({
      "jobs/a.yaml": jobYaml(`on:\n  schedule: [{ cron: "*/10 * * * *", timezone: UTC }]`),
      "jobs/b.yaml": jobYaml(`on:\n  schedule: [{ cron: "*/10 * * * *", timezone: UTC }]`),
    });
    await s.register(both.jobs.values());
    clock.set("2026-01-01T00:10:00Z");
    await s.reconcile();
    expect(fired).toEqual(["b"]);
    expect(errors).toEqual(["remote unreachable"]);
  });

  it("registers node-cron tasks with the job's time zone and reports the next run", async () => {
    const clock = new ManualClock(new Date());
    const s = new Scheduler({
      clock,
      load: () => undefined,
      save: () => undefined,
      fire: () => undefined,
      missed: () => undefined,
      useNodeCron: true,
    });
    await s.register(
      modelFrom({
        "jobs/b.yaml": jobYaml(`on:\n  schedule: [{ cron: "0 3 * * 1", timezone: Europe/Berlin }]`),
      }).jobs.values(),
    );
    const [reg] = s.registered;
    expect(reg).toMatchObject({ job: "b", cron: "0 3 * * 1", timezone: "Europe/Berlin" });
    // 03:00 in Berlin is 02:00 UTC (CET) or 01:00 UTC (CEST); 03:00 UTC would mean the zone was dropped.
    expect([1, 2]).toContain(new Date(reg!.next!).getUTCHours());
    await s.stop();
  });
});
