import { describe, expect, it } from "vitest";
import { boundedPool } from "../../src/core/bounded-pool.js";

/** Work whose calls finish only when the test says so, to see what runs at once. */
function gate() {
  const waiting = new Map<number, () => void>();
  let running = 0;
  let most = 0;
  const work = async (n: number): Promise<number> => {
    running++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => waiting.set(n, resolve));
    running--;
    return n * 10;
  };
  const release = async (n: number): Promise<void> => {
    while (!waiting.has(n)) await new Promise((r) => setImmediate(r));
    waiting.get(n)!();
    waiting.delete(n);
  };
  return { work, release, waiting, most: () => most, running: () => running };
}

describe("boundedPool", () => {
  it("never has more than the limit in flight and starts the next as one finishes", async () => {
    const g = gate();
    const items = [0, 1, 2, 3, 4, 5, 6];
    const done = boundedPool(items, 3, g.work);
    await new Promise((r) => setImmediate(r));
    expect([...g.waiting.keys()].sort()).toEqual([0, 1, 2]);
    await g.release(1);
    await new Promise((r) => setImmediate(r));
    expect([...g.waiting.keys()].sort()).toEqual([0, 2, 3]);
    for (const n of [0, 2, 3, 4, 5, 6]) await g.release(n);
    await done;
    expect(g.most()).toBe(3);
  });

  it("gives results in the order of the items, not the order they finish", async () => {
    const g = gate();
    const done = boundedPool([1, 2, 3, 4], 4, g.work);
    for (const n of [4, 3, 2, 1]) await g.release(n);
    expect(await done).toEqual([10, 20, 30, 40]);
  });

  it("passes the index and runs one at a time for a limit below one", async () => {
    const seen: string[] = [];
    const out = await boundedPool(["a", "b"], 0, async (s, i) => {
      seen.push(`start ${s}`);
      await Promise.resolve();
      seen.push(`end ${s}`);
      return `${s}${i}`;
    });
    expect(out).toEqual(["a0", "b1"]);
    expect(seen).toEqual(["start a", "end a", "start b", "end b"]);
  });

  it("returns an empty list for no items without calling the work", async () => {
    let calls = 0;
    expect(await boundedPool([], 5, async () => calls++)).toEqual([]);
    expect(calls).toBe(0);
  });

  it("throws the first error, starts nothing after it and waits for the calls in flight", async () => {
    const g = gate();
    const started: number[] = [];
    const done = boundedPool([0, 1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      if (n === 1) throw new Error("boom on 1");
      return g.work(n);
    });
    let settled = false;
    void done.catch(() => undefined).then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    // 1 failed: its worker stops; 0 is still running, so the pool has not settled.
    expect(settled).toBe(false);
    await g.release(0);
    await expect(done).rejects.toThrow("boom on 1");
    expect(started).toEqual([0, 1]);
    expect(g.running()).toBe(0);
  });

  it("starts no new item once the signal aborts and leaves the unstarted ones out", async () => {
    const g = gate();
    const ac = new AbortController();
    const done = boundedPool([0, 1, 2, 3], 2, g.work, { signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await g.release(0);
    await g.release(1);
    expect(await done).toEqual([0, 10]);
  });
});
