/**
 * Fires `on.schedule` ticks. node-cron wakes us at each tick (with a raised
 * missed-execution tolerance, and its missed event also wakes us), but the
 * decision is always made by `reconcile`, which compares the schedule computed
 * with cron-parser against the last time each schedule was checked (persisted).
 * So ticks lost while the runner was down, or dropped by a busy process, are
 * found, recorded as missed, and run or not as the job's catch-up policy says.
 */
import cron, { type ScheduledTask } from "node-cron";
import type { JobDef, ScheduleTrigger } from "../core/repo-model.js";
import type { Clock } from "./clock.js";
import { decideTicks, ticksBetween } from "./schedule-ticks.js";

/** A tick older than this when seen is late (missed), however it is then handled. */
export const DEFAULT_TOLERANCE_MS = 60_000;
/** How long node-cron still calls us for a late tick; reconcile sorts out the rest. */
const NODE_CRON_TOLERANCE_MS = 10 * 60_000;

export interface ScheduledTick {
  job: string;
  schedule: ScheduleTrigger;
  /** Position in the job's `on.schedule` list (0 for a drift check). */
  index: number;
  at: Date;
  late: boolean;
  /** The job's `drift.schedule`: check it for drift rather than run it. */
  drift?: boolean;
}

export interface SchedulerOptions {
  clock: Clock;
  /** Persisted bookkeeping: when each schedule was last checked. */
  load: () => Record<string, string> | undefined;
  save: (checked: Record<string, string>) => void;
  fire: (tick: ScheduledTick) => void | Promise<void>;
  missed: (tick: Omit<ScheduledTick, "late">) => void | Promise<void>;
  toleranceMs?: number;
  /** Let node-cron wake us (production). Tests drive `reconcile` with a manual clock instead. */
  useNodeCron?: boolean;
  onError?: (e: unknown) => void;
}

interface Entry {
  key: string;
  job: string;
  index: number;
  schedule: ScheduleTrigger;
  task?: ScheduledTask;
  drift?: boolean;
}

export class Scheduler {
  private entries: Entry[] = [];
  private checked: Record<string, string>;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: SchedulerOptions) {
    this.checked = options.load() ?? {};
  }

  /** Keys identify a schedule by job and content, so an edited schedule starts afresh. */
  static keyOf(job: string, schedule: ScheduleTrigger): string {
    return `${job}|${schedule.cron}|${schedule.timezone}`;
  }

  get registered(): Array<{ job: string; cron: string; timezone: string; drift?: true; next?: string }> {
    return this.entries.map((e) => ({
      job: e.job,
      ...(e.drift ? { drift: true as const } : {}),
      cron: e.schedule.cron,
      timezone: e.schedule.timezone,
      ...(e.task?.getNextRun() ? { next: e.task.getNextRun()!.toISOString() } : {}),
    }));
  }

  /**
   * (Re-)registers every schedule of these jobs, replacing the previous set.
   * A schedule seen for the first time starts now: nothing before it is owed.
   */
  async register(jobs: Iterable<JobDef>): Promise<void> {
    await this.stopTasks();
    const now = this.options.clock.now().toISOString();
    const next: Entry[] = [];
    for (const job of jobs) {
      const schedules = job.on.schedule.map((schedule, index) => ({ schedule, index, drift: false }));
      if (job.drift?.schedule) schedules.push({ schedule: job.drift.schedule, index: 0, drift: true });
      schedules.forEach(({ schedule, index, drift }) => {
        // A drift check on the same cron as a run is a schedule of its own.
        const key = Scheduler.keyOf(drift ? `drift:${job.id}` : job.id, schedule);
        this.checked[key] ??= now;
        const entry: Entry = { key, job: job.id, index, schedule, ...(drift ? { drift } : {}) };
        if (this.options.useNodeCron) {
          entry.task = cron.schedule(schedule.cron, () => this.reconcile(), {
            timezone: schedule.timezone,
            name: key,
            missedExecutionTolerance: NODE_CRON_TOLERANCE_MS,
            suppressMissedWarning: true,
          });
          entry.task.on("execution:missed", () => void this.reconcile());
        }
        next.push(entry);
      });
    }
    const keep = new Set(next.map((e) => e.key));
    for (const key of Object.keys(this.checked)) if (!keep.has(key)) delete this.checked[key];
    this.entries = next;
    this.options.save(this.checked);
  }

  /** Looks at every schedule up to now; serialised, so overlapping wake-ups never double a tick. */
  reconcile(): Promise<void> {
    this.running = this.running.then(() => this.reconcileNow()).catch((e) => this.options.onError?.(e));
    return this.running;
  }

  private async reconcileNow(): Promise<void> {
    const now = this.options.clock.now();
    const tolerance = this.options.toleranceMs ?? DEFAULT_TOLERANCE_MS;
    for (const e of this.entries) {
      const since = new Date(this.checked[e.key] ?? now.toISOString());
      const ticks = ticksBetween(e.schedule, since, now);
      this.checked[e.key] = now.toISOString();
      if (ticks.length === 0) continue;
      const decision = decideTicks(ticks, now, tolerance, e.schedule.catchUp);
      // Persist before acting: a crash now loses a tick rather than running it twice.
      this.options.save(this.checked);
      // One failing tick (an unreachable remote while claiming) must not swallow the others.
      const tick = { job: e.job, schedule: e.schedule, index: e.index, ...(e.drift ? { drift: true } : {}) };
      for (const at of decision.missed) {
        await this.guard(() => this.options.missed({ ...tick, at }));
      }
      for (const t of decision.run) {
        await this.guard(() => this.options.fire({ ...tick, ...t }));
      }
    }
    this.options.save(this.checked);
  }

  private async guard(fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.options.onError?.(e);
    }
  }

  async stop(): Promise<void> {
    await this.stopTasks();
    await this.running;
  }

  private async stopTasks(): Promise<void> {
    for (const e of this.entries) await e.task?.destroy();
  }
}
