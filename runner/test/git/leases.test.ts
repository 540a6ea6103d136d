/**
 * Leases against a real `git http-backend` and in a local repository: every
 * move is a compare-and-swap the server arbitrates. Expiry is driven by each
 * holder's injected clock, so nothing here waits for time to pass.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  leaseDurationMs,
  Leases,
  LocalLeaseBackend,
  RemoteLeaseBackend,
  type LeaseBackend,
} from "../../src/git/leases.js";
import type { GitHttpServer } from "../helpers/git-http-server.js";
import { recordsRemote } from "../helpers/records-remote.js";

// Servers and scratch repositories live in one folder, removed after the file.
const remotes = recordsRemote("opsc-leases-");
let remote: GitHttpServer;

beforeAll(async () => {
  remote = await remotes.server();
});

const T0 = Date.parse("2026-11-26T10:00:00Z");
const at = (ms: number) => () => new Date(T0 + ms);
let n = 0;
const newRef = () => `refs/opsconductor/locks/test-${++n}`;

function onServer(ref: string): string | null {
  try {
    return execFileSync("git", ["-C", remote.bareDir, "rev-parse", "--verify", "-q", ref], {
      encoding: "utf8",
    }).trim();
  } catch {
    return null;
  }
}

function localBackend(): LeaseBackend {
  const d = mkdtempSync(join(remotes.scratch, "repo-"));
  execFileSync("git", ["init", "-q", "--bare", d]);
  return new LocalLeaseBackend(d);
}

const kinds: Array<[string, () => LeaseBackend, boolean]> = [
  ["on a git http-backend remote", () => new RemoteLeaseBackend(remote.url, undefined), true],
  ["in a local repository", localBackend, false],
];

describe.each(kinds)("leases %s", (_name, backendOf, isRemote) => {
  it("gives a free lease to exactly one of several racing creators", async () => {
    const ref = newRef();
    const backend = backendOf();
    const takers = Array.from({ length: 4 }, (_, i) => new Leases(backend, { replica: `r${i}`, now: at(0) }));
    const results = await Promise.all(takers.map((l, i) => l.acquire(ref, `run-${i}`)));
    const won = results.filter((r) => r.kind === "acquired");
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.kind === "held") expect(r.by.info.replica).toBe(won[0]!.lease.info.replica);
  });

  it("lets exactly one of two racing takers take over an expired lease, and says from whom", async () => {
    const ref = newRef();
    const backend = backendOf();
    const first = await new Leases(backend, { replica: "dead", durationMs: 1000, now: at(0) }).acquire(
      ref,
      "run-a",
    );
    expect(first.kind).toBe("acquired");
    // Not yet expired: refused, naming the holder.
    const early = await new Leases(backend, { replica: "b", now: at(500) }).acquire(ref, "run-b");
    expect(early.kind).toBe("held");
    if (early.kind === "held") expect(early.by.info).toMatchObject({ holder: "run-a", replica: "dead" });

    for (let round = 0; round < 3; round++) {
      const r = newRef();
      await new Leases(backend, { replica: "dead", durationMs: 1000, now: at(0) }).acquire(r, "run-a");
      const b = new Leases(backend, { replica: "b", now: at(5000) });
      const c = new Leases(backend, { replica: "c", now: at(5000) });
      const [rb, rc] = await Promise.all([b.acquire(r, "run-b"), c.acquire(r, "run-c")]);
      const winners = [rb, rc].filter((x) => x.kind === "acquired");
      expect(winners).toHaveLength(1);
      const w = winners[0]!;
      if (w.kind !== "acquired") throw new Error("unreachable");
      expect(w.lease.takenOverFrom).toEqual({ holder: "run-a", replica: "dead" });
      const loser = [rb, rc].find((x) => x.kind !== "acquired")!;
      expect(loser.kind).toBe("held");
      if (isRemote) expect(onServer(r)).toBe(w.lease.oid);
      // The winner's commit is a child of the expired one: a fast-forward.
      if (isRemote) {
        const parents = execFileSync("git", ["-C", remote.bareDir, "rev-list", "--parents", "-n1", r], {
          encoding: "utf8",
        });
        expect(parents.trim().split(" ")).toHaveLength(2);
      }
    }
  });

  it("renews a held lease; a holder that stalled past expiry and lost it cannot renew", async () => {
    const ref = newRef();
    const backend = backendOf();
    const a = await new Leases(backend, { replica: "a", durationMs: 1000, now: at(0) }).acquire(ref, "run-a");
    if (a.kind !== "acquired") throw new Error("not acquired");
    expect(await a.lease.renew()).toBe(true);
    expect(a.lease.info.renewals).toBe(1);
    const b = await new Leases(backend, { replica: "b", now: at(10_000) }).acquire(ref, "run-b");
    expect(b.kind).toBe("acquired");
    expect(await a.lease.renew()).toBe(false);
    expect(a.lease.lost).toBe(true);
    // Nor can it release what it no longer holds.
    expect(await a.lease.release()).toBe(false);
    const read = await new Leases(backend, { replica: "x" }).read(ref);
    expect(read?.info).toMatchObject({ holder: "run-b", replica: "b", state: "held" });
  });

  it("a claim written before claims were leases counts as done", async () => {
    const ref = newRef();
    const backend = backendOf();
    const legacy = new TextEncoder().encode(
      "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor OpsConductor <opsconductor@localhost> 1 +0000\n" +
        `committer OpsConductor <opsconductor@localhost> 1 +0000\n\nclaim ${ref}\n\nReplica: old\nAt: 2026-01-01T00:00:00.000Z\nNonce: x\n`,
    );
    expect(await backend.update(ref, null, legacy)).toBe(true);
    const r = await new Leases(backend, { replica: "new" }).acquire(ref, "delivery/x");
    expect(r.kind).toBe("done");
  });

  it("a released lease is free at once; a done one is never taken over", async () => {
    const ref = newRef();
    const backend = backendOf();
    const a = await new Leases(backend, { replica: "a", now: at(0) }).acquire(ref, "run-a");
    if (a.kind !== "acquired") throw new Error("not acquired");
    expect(await a.lease.release()).toBe(true);
    if (isRemote) expect(onServer(ref)).toBeNull();
    const b = await new Leases(backend, { replica: "b", now: at(1) }).acquire(ref, "run-b");
    expect(b.kind).toBe("acquired");
    if (b.kind !== "acquired") return;
    expect(b.lease.takenOverFrom).toBeUndefined();
    expect(await b.lease.finish()).toBe(true);
    const late = await new Leases(backend, { replica: "c", now: at(10 * 60_000) }).acquire(ref, "run-c");
    expect(late.kind).toBe("done");
  });
});

describe("leases on a remote whose URL carries its credentials", () => {
  it("sends them as Basic auth, as git does, and never shows them in an error", async () => {
    const token = "s3cr3t-lease-token";
    const guarded = await remotes.server({ token });
    const withCreds = guarded.url.replace("http://", `http://x-access-token:${token}@`);
    const leases = new Leases(new RemoteLeaseBackend(withCreds, undefined), { replica: "r", now: at(0) });
    const ref = newRef();
    expect((await leases.acquire(ref, "run-1")).kind).toBe("acquired");

    const wrong = guarded.url.replace("http://", "http://x-access-token:not-the-token@");
    const refused = new Leases(new RemoteLeaseBackend(wrong, undefined), { replica: "r", now: at(0) });
    const error = await refused.acquire(newRef(), "run-2").then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/401/);
    expect(error?.message).not.toContain("not-the-token");
  });
});

describe("OPSC_LEASE_SECONDS", () => {
  it("takes seconds, and refuses anything else with a message naming the variable and what to give", () => {
    expect(leaseDurationMs({ OPSC_LEASE_SECONDS: "2.5" })).toBe(2500);
    expect(leaseDurationMs({})).toBe(60_000);
    for (const bad of ["abc", "0", "-5", "10m"]) {
      expect(() => leaseDurationMs({ OPSC_LEASE_SECONDS: bad })).toThrow(
        expect.objectContaining({
          code: "leases.bad-duration",
          message: `OPSC_LEASE_SECONDS is ${JSON.stringify(bad)}`,
          hint: "give the lease duration in seconds, at least 1 (default 60)",
        }),
      );
    }
  });
});
