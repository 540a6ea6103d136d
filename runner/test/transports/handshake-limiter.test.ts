/** The handshake limit holds per destination: one busy sshd never holds back targets on other hosts. */
import { describe, expect, it } from "vitest";
import { HandshakeLimiter } from "../../src/transports/handshake-limiter.js";

/** A handshake that lasts until released, recording when it started. */
function gate(started: string[], name: string): { work: () => Promise<string>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    work: async () => {
      started.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("HandshakeLimiter", () => {
  it("runs at most `limit` handshakes at once against one destination, the rest in order", async () => {
    const limiter = new HandshakeLimiter(2);
    const started: string[] = [];
    const gates = ["a", "b", "c", "d"].map((n) => gate(started, n));
    const results = gates.map((g) => limiter.run("10.0.0.1:22", g.work));
    await turn();
    expect(started).toEqual(["a", "b"]);
    gates[1]!.release();
    await turn();
    expect(started).toEqual(["a", "b", "c"]);
    gates[0]!.release();
    gates[2]!.release();
    await turn();
    expect(started).toEqual(["a", "b", "c", "d"]);
    gates[3]!.release();
    expect(await Promise.all(results)).toEqual(["a", "b", "c", "d"]);
  });

  it("never makes a destination wait for another one's handshakes", async () => {
    const limiter = new HandshakeLimiter(1);
    const started: string[] = [];
    const busy = gate(started, "one");
    const queued = gate(started, "one-again");
    const other = gate(started, "two");
    const results = [
      limiter.run("10.0.0.1:22", busy.work),
      limiter.run("10.0.0.1:22", queued.work),
      limiter.run("10.0.0.2:22", other.work),
    ];
    await turn();
    expect(started).toEqual(["one", "two"]);
    other.release();
    busy.release();
    await turn();
    expect(started).toEqual(["one", "two", "one-again"]);
    queued.release();
    expect(await Promise.all(results)).toEqual(["one", "one-again", "two"]);
  });

  it("frees the slot when a handshake fails", async () => {
    const limiter = new HandshakeLimiter(1);
    await expect(limiter.run("h:22", () => Promise.reject(new Error("refused")))).rejects.toThrow("refused");
    expect(await limiter.run("h:22", () => Promise.resolve("next"))).toBe("next");
  });
});
