/**
 * Schedule arithmetic, pure: which ticks of a cron schedule fell in a window,
 * and what the catch-up policy does with the late ones. node-cron only fires;
 * this decides, so a tick lost to a busy process or a stopped runner is still
 * seen and recorded.
 */
import { CronExpressionParser } from "cron-parser";
import type { ScheduleTrigger } from "../core/repo-model.js";

/** Upper bound on ticks looked at in one window (a `* * * * *` schedule down for a week is 10,080). */
export const MAX_TICKS = 10_000;

/** Ticks in (after, until], oldest first; at most MAX_TICKS, keeping the newest. */
export function ticksBetween(
  schedule: Pick<ScheduleTrigger, "cron" | "timezone">,
  after: Date,
  until: Date,
): Date[] {
  if (until.getTime() <= after.getTime()) return [];
  const expr = CronExpressionParser.parse(schedule.cron, { currentDate: until, tz: schedule.timezone });
  const out: Date[] = [];
  // Walk back from `until`: the newest ticks matter most when the window is huge.
  // cron-parser's prev() is strictly before currentDate, so check `until` itself first.
  const atUntil = CronExpressionParser.parse(schedule.cron, {
    currentDate: new Date(until.getTime() - 1000),
    tz: schedule.timezone,
  });
  const first = atUntil.next().toDate();
  if (first.getTime() === until.getTime()) out.push(first);
  while (out.length < MAX_TICKS) {
    const d = expr.prev().toDate();
    if (d.getTime() <= after.getTime()) break;
    out.push(d);
  }
  return out.reverse();
}

export interface TickDecision {
  /** Ticks to run now, oldest first. */
  run: Array<{ at: Date; late: boolean }>;
  /** Ticks that were late (missed on time): each is recorded in the audit trail. */
  missed: Date[];
}

/**
 * A tick is on time when it is at most `toleranceMs` old at `now`. Every late
 * tick is missed; `catchUp` decides which of them still run: none, the
 * latest, or all. An on-time tick makes a `latest` catch-up redundant.
 */
export function decideTicks(
  ticks: readonly Date[],
  now: Date,
  toleranceMs: number,
  catchUp: ScheduleTrigger["catchUp"],
): TickDecision {
  const onTime = ticks.filter((t) => now.getTime() - t.getTime() <= toleranceMs);
  const missed = ticks.filter((t) => now.getTime() - t.getTime() > toleranceMs);
  const late: Date[] =
    catchUp === "all" ? missed : catchUp === "latest" && onTime.length === 0 ? missed.slice(-1) : [];
  return {
    run: [...late.map((at) => ({ at, late: true })), ...onTime.map((at) => ({ at, late: false }))],
    missed,
  };
}
