/**
 * The queue between accepting work and running it: FIFO, a global limit on
 * runs at once, and concurrency groups. In a group at most one item runs; the
 * job's policy says what a newcomer does while the group is busy:
 * `queue` waits its turn, `skip` is dropped, `cancel-previous` cancels what is
 * queued and running in the group and then runs.
 */
import { errorText } from "../core/error-text.js";
import { environmentError } from "../core/errors.js";
import type { WorkItem } from "./work-item.js";

import { SHUTDOWN_CODE } from "../core/shutdown.js";

export interface RunQueueOptions {
  /** Runs at once across all groups. */
  limit: number;
  /** Runs one item; resolves when it is finished (whatever its result). */
  execute: (item: WorkItem, signal: AbortSignal) => Promise<void>;
  /** Called on every status change, to journal and count. */
  onChange: (item: WorkItem) => void;
  now?: () => Date;
}

interface Running {
  item: WorkItem;
  controller: AbortController;
  done: Promise<void>;
}

export class RunQueue {
  private readonly waiting: WorkItem[] = [];
  private readonly running = new Map<string, Running>();
  private accepting = true;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly now: () => Date;

  constructor(private readonly options: RunQueueOptions) {
    this.now = options.now ?? (() => new Date());
  }

  get depth(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running.size;
  }

  /** Queued and running items, oldest first. */
  items(): WorkItem[] {
    return [...[...this.running.values()].map((r) => r.item), ...this.waiting];
  }

  /** Adds an item; returns it with its status (`queued`, or `skipped` under a skip policy). */
  enqueue(item: WorkItem): WorkItem {
    const group = item.concurrency?.group;
    if (group !== undefined) {
      const busy = this.inGroup(group);
      if (busy.length > 0 && item.concurrency?.policy === "skip") {
        this.settle(item, "skipped", `concurrency group "${group}" is busy (policy skip)`);
        return item;
      }
      if (busy.length > 0 && item.concurrency?.policy === "cancel-previous") {
        for (const other of busy) this.cancel(other.id, `superseded by ${item.id} (policy cancel-previous)`);
      }
    }
    item.status = "queued";
    this.waiting.push(item);
    this.dispatch();
    // Reported once, as running, when it starts at once: one journal write instead of two.
    if (item.status === "queued") this.options.onChange(item);
    return item;
  }

  /** Cancels a queued item, or aborts a running one. */
  cancel(id: string, reason: string): boolean {
    const at = this.waiting.findIndex((w) => w.id === id);
    if (at >= 0) {
      const [item] = this.waiting.splice(at, 1);
      if (item) this.settle(item, "cancelled", reason);
      return true;
    }
    const running = this.running.get(id);
    if (running) {
      running.item.reason = reason;
      running.controller.abort(new Error(reason));
      return true;
    }
    return false;
  }

  /**
   * Stops starting new work and waits up to `graceMs` for running items; then
   * aborts them and waits for them to wind down. Queued items stay queued (they
   * are journaled and run after a restart).
   */
  async shutdown(graceMs: number): Promise<void> {
    this.accepting = false;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"timeout">(
      (resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)),
    );
    const outcome = await Promise.race([all().then(() => "done" as const), graceOver]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      const reason = environmentError(
        SHUTDOWN_CODE,
        `the runner is shutting down; the ${graceMs} ms grace period is over`,
      );
      for (const r of this.running.values()) r.controller.abort(reason);
      await all();
    }
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private inGroup(group: string): WorkItem[] {
    return this.items().filter((i) => i.concurrency?.group === group);
  }

  private groupRunning(group: string): boolean {
    for (const r of this.running.values()) if (r.item.concurrency?.group === group) return true;
    return false;
  }

  private dispatch(): void {
    if (!this.accepting) return;
    for (let i = 0; i < this.waiting.length && this.running.size < this.options.limit;) {
      const item = this.waiting[i]!;
      const group = item.concurrency?.group;
      if (group !== undefined && this.groupRunning(group)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.start(item);
    }
    this.checkIdle();
  }

  private start(item: WorkItem): void {
    const controller = new AbortController();
    item.status = "running";
    item.startedAt = this.now().toISOString();
    this.options.onChange(item);
    const done = (async () => {
      try {
        await this.options.execute(item, controller.signal);
        if (item.status === "running") item.status = "finished";
      } catch (e) {
        item.status = "failed";
        item.reason = errorText(e);
      }
      item.finishedAt = this.now().toISOString();
      this.running.delete(item.id);
      this.options.onChange(item);
      this.dispatch();
    })();
    this.running.set(item.id, { item, controller, done });
  }

  private settle(item: WorkItem, status: "skipped" | "cancelled", reason: string): void {
    item.status = status;
    item.reason = reason;
    item.finishedAt = this.now().toISOString();
    this.options.onChange(item);
  }

  private checkIdle(): void {
    if (this.waiting.length > 0 || this.running.size > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
