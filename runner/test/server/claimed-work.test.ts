/**
 * The claim around submitted work (fault injection with an in-process claim):
 * freed when submitting fails, never freed once submitted, done when the runs end.
 */
import { describe, expect, it } from "vitest";
import type { WonClaim } from "../../src/git/claims.js";
import { submitUnderClaim } from "../../src/server/claimed-work.js";
import type { WorkItem } from "../../src/server/work-item.js";

function claim(): WonClaim & { calls: string[] } {
  const calls: string[] = [];
  return {
    kind: "won",
    calls,
    done: () => Promise.resolve(void calls.push("done")),
    abandon: () => Promise.resolve(void calls.push("abandon")),
  };
}
const item = { id: "i1" } as WorkItem;
const settle = () => new Promise((r) => setTimeout(r, 10));

describe("submitUnderClaim", () => {
  it("frees the claim when the work cannot be submitted, and passes the error on", async () => {
    const c = claim();
    await expect(
      submitUnderClaim(
        c,
        () => Promise.reject(new Error("model failed")),
        () => Promise.resolve(),
      ),
    ).rejects.toThrow("model failed");
    expect(c.calls).toEqual(["abandon"]);
  });

  it("says done once the submitted work has ended", async () => {
    const c = claim();
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    expect(
      await submitUnderClaim(
        c,
        () => Promise.resolve([item]),
        () => ended,
      ),
    ).toEqual([item]);
    await settle();
    expect(c.calls).toEqual([]);
    end();
    await settle();
    expect(c.calls).toEqual(["done"]);
  });

  it("never frees submitted work, even when waiting for its end fails", async () => {
    const c = claim();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      await submitUnderClaim(
        c,
        () => Promise.resolve([item]),
        () => Promise.reject(new Error("journal gone")),
      );
      await settle();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(c.calls).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
