/**
 * The events of the runs this server is running, kept per work item so a
 * subscriber who arrives late gets the run from its first event, then follows
 * it live until it ends. The events come from the engine's listeners, already
 * masked; the recorder gets the very same objects.
 */
import type { RunEvent } from "../core/run-events.js";

export interface RunEventsSubscriber {
  event(event: RunEvent): void;
  end(): void;
}

interface LiveRun {
  itemId: string;
  runId?: string;
  events: RunEvent[];
  /** Output lines dropped because the buffer was full (a run printing without end must not eat the server's memory). */
  dropped: number;
  ended: boolean;
  subscribers: Set<RunEventsSubscriber>;
}

/** Per run; past it, output lines are dropped from the live buffer (the record keeps them all). */
export const MAX_BUFFERED_EVENTS = 50_000;
/** Finished runs kept for replay before a subscriber has to read the record. */
const KEEP_FINISHED = 20;

export class RunEventsHub {
  private readonly runs = new Map<string, LiveRun>();
  private readonly finished: string[] = [];

  /** A work item starts running. */
  begin(itemId: string): void {
    // A subscriber may already wait for this queued item (subscribe with `expect`).
    if (!this.runs.get(itemId) || this.runs.get(itemId)!.ended) this.runs.set(itemId, fresh(itemId));
  }

  publish(itemId: string, event: RunEvent): void {
    const run = this.runs.get(itemId);
    if (!run || run.ended) return;
    if (event.type === "run.started") run.runId = event.runId;
    if (run.events.length >= MAX_BUFFERED_EVENTS && event.type === "step.output") {
      run.dropped++;
      return;
    }
    run.events.push(event);
    for (const s of run.subscribers) s.event(event);
  }

  /** The run ended (finished, failed to start, cancelled): every stream of it closes. */
  end(itemId: string): void {
    const run = this.runs.get(itemId);
    if (!run || run.ended) return;
    run.ended = true;
    for (const s of run.subscribers) s.end();
    run.subscribers.clear();
    this.finished.push(itemId);
    while (this.finished.length > KEEP_FINISHED) this.runs.delete(this.finished.shift()!);
  }

  /** Known here, by work item id or run id (finished ones only while still kept). */
  has(id: string): boolean {
    return this.find(id) !== undefined;
  }

  /**
   * Replays every event so far, then follows. Returns the unsubscribe
   * function, or undefined when this hub does not know the run.
   */
  subscribe(
    id: string,
    subscriber: RunEventsSubscriber,
    options: { expect?: boolean } = {},
  ): (() => void) | undefined {
    let run = this.find(id);
    // `expect`: a queued work item, not started yet; its events arrive here once it starts.
    if (!run && options.expect) this.runs.set(id, (run = fresh(id)));
    if (!run) return undefined;
    // Copied first: a subscriber's callback may not see an event twice if it publishes meanwhile.
    for (const e of [...run.events]) subscriber.event(e);
    if (run.ended) {
      subscriber.end();
      return () => undefined;
    }
    run.subscribers.add(subscriber);
    return () => void run.subscribers.delete(subscriber);
  }

  private find(id: string): LiveRun | undefined {
    const direct = this.runs.get(id);
    if (direct) return direct;
    for (const run of this.runs.values()) if (run.runId === id) return run;
    return undefined;
  }
}

function fresh(itemId: string): LiveRun {
  return { itemId, events: [], dropped: 0, ended: false, subscribers: new Set() };
}
