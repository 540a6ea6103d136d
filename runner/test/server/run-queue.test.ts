import { describe, expect, it } from "vitest";
import { RunQueue } from "../../src/server/run-queue.js";
import type { WorkItem } from "../../src/server/work-item.js";

/** A controllable executor: each started item waits until the test releases it (or it is aborted). */
function harness(limit: number) {
  const started: string[] = [];
  const aborted: string[] = [];
  const release = new Map<string, () => void>();
  const changes: Array<[string, string]> = [];
  const queue = new RunQueue({
    limit,
    execute: (item, signal) =>
      new Promise<void>((resolve) => {
        started.push(item.id);
        release.set(item.id, resolve);
        signal.addEventListener("abort", () => {
          aborted.push(item.id);
          item.status = "cancelled";
          resolve();
        });
      }),
    onChange: (item) => changes.push([item.id, item.status]),
  });
  const tick = () => new Promise((r) => setImmediate(r));
  return { queue, started, aborted, release, changes, tick };
}

function item(id: string, concurrency?: WorkItem["concurrency"]): WorkItem {
  return {
    id,
    job: "j",
    commit: "c",
    inputs: {},
    trigger: { kind: "api", actor: "t" },
    acceptedAt: new Date().toISOString(),
    status: "queued",
    ...(concurrency ? { concurrency } : {}),
  };
}

describe("RunQueue", () => {
  it("never runs more than the global limit at once, and starts the next as one finishes", async () => {
    const h = harness(2);
    for (const id of ["a", "b", "c"]) h.queue.enqueue(item(id));
    expect(h.started).toEqual(["a", "b"]);
    expect(h.queue.depth).toBe(1);
    h.release.get("a")!();
    await h.tick();
    expect(h.started).toEqual(["a", "b", "c"]);
  });

  it("reports an item that starts at once as running only, and one that waits as queued, before it runs", () => {
    const h = harness(1);
    h.queue.enqueue(item("now"));
    h.queue.enqueue(item("later"));
    // Each report is a journal write: the item that starts at once is written once, as running.
    expect(h.changes).toEqual([
      ["now", "running"],
      ["later", "queued"],
    ]);
    expect(h.started).toEqual(["now"]);
  });

  it("queue policy: one at a time per group, in order, while other groups run", async () => {
    const h = harness(5);
    h.queue.enqueue(item("g1", { group: "web", policy: "queue" }));
    h.queue.enqueue(item("g2", { group: "web", policy: "queue" }));
    h.queue.enqueue(item("other", { group: "db", policy: "queue" }));
    expect(h.started).toEqual(["g1", "other"]);
    h.release.get("g1")!();
    await h.tick();
    expect(h.started).toEqual(["g1", "other", "g2"]);
  });

  it("skip policy: a newcomer is dropped while its group is busy", async () => {
    const h = harness(5);
    h.queue.enqueue(item("s1", { group: "web", policy: "skip" }));
    const second = h.queue.enqueue(item("s2", { group: "web", policy: "skip" }));
    expect(second.status).toBe("skipped");
    expect(second.reason).toMatch(/busy/);
    expect(h.started).toEqual(["s1"]);
    h.release.get("s1")!();
    await h.tick();
    const third = h.queue.enqueue(item("s3", { group: "web", policy: "skip" }));
    expect(third.status).toBe("running");
  });

  it("cancel-previous: aborts the running item, drops the queued one, then runs the newcomer", async () => {
    const h = harness(5);
    h.queue.enqueue(item("c1", { group: "web", policy: "cancel-previous" }));
    h.queue.enqueue(item("c2", { group: "web", policy: "cancel-previous" }));
    expect(h.aborted).toEqual(["c1"]);
    await h.tick();
    expect(h.started).toEqual(["c1", "c2"]);
    h.queue.enqueue(item("c3", { group: "web", policy: "cancel-previous" }));
    await h.tick();
    expect(h.aborted).toEqual(["c1", "c2"]);
    expect(h.started).toEqual(["c1", "c2", "c3"]);
    expect(h.changes).toContainEqual(["c1", "cancelled"]);
  });

  it("cancel-previous drops a queued item that never started", async () => {
    const h = harness(1);
    h.queue.enqueue(item("busy"));
    h.queue.enqueue(item("q1", { group: "g", policy: "cancel-previous" }));
    h.queue.enqueue(item("q2", { group: "g", policy: "cancel-previous" }));
    expect(h.changes).toContainEqual(["q1", "cancelled"]);
    h.release.get("busy")!();
    await h.tick();
    expect(h.started).toEqual(["busy", "q2"]);
  });

  it("shutdown waits for the grace period, then aborts what still runs; queued items stay queued", async () => {
    const h = harness(1);
    h.queue.enqueue(item("long"));
    h.queue.enqueue(item("waiting"));
    const t0 = Date.now();
    await h.queue.shutdown(100);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(h.aborted).toEqual(["long"]);
    expect(h.started).toEqual(["long"]);
    expect(h.queue.items().map((i) => [i.id, i.status])).toEqual([["waiting", "queued"]]);
  });

  it("records an executor failure on the item instead of losing it", async () => {
    const queue = new RunQueue({
      limit: 1,
      execute: async () => {
        throw new Error("mirror unreachable");
      },
      onChange: () => undefined,
    });
    const it1 = queue.enqueue(item("x"));
    await queue.idle();
    expect(it1.status).toBe("failed");
    expect(it1.reason).toBe("mirror unreachable");
  });
});
