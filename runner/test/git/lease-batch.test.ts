/**
 * Lease batches against a real `git http-backend` and in a local repository:
 * many refs taken, renewed and freed in one push each, each ref still its own
 * compare-and-swap. The server's request log counts the pushes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { LeaseGroup } from "../../src/git/lease-group.js";
import { Leases, LocalLeaseBackend, RemoteLeaseBackend, type LeaseBackend } from "../../src/git/leases.js";
import type { GitHttpServer } from "../helpers/git-http-server.js";
import { recordsRemote } from "../helpers/records-remote.js";

// Servers and scratch repositories live in one folder, removed after the file.
const remotes = recordsRemote("opsc-lease-batch-");
let remote: GitHttpServer;

beforeAll(async () => {
  remote = await remotes.server();
});

const T0 = Date.parse("2026-11-26T10:00:00Z");
const at = (ms: number) => () => new Date(T0 + ms);
let batch = 0;
/** `count` fresh refs of one batch, in name order. */
const newRefs = (count: number) => {
  batch++;
  return Array.from(
    { length: count },
    (_, i) => `refs/opsconductor/locks/b${batch}-t${String(i).padStart(3, "0")}`,
  );
};
const pushes = () =>
  remote.log().filter((l) => l.startsWith("POST") && l.includes("git-receive-pack")).length;

interface Kind {
  name: string;
  backend: () => LeaseBackend;
  /** The lease message a ref points at, null when it does not exist. */
  message: (ref: string) => string | null;
  remote: boolean;
}

function messageIn(gitdir: string, ref: string): string | null {
  try {
    return execFileSync("git", ["-C", gitdir, "log", "-1", "--format=%B", ref, "--"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return null;
  }
}

function localKind(): Kind {
  const d = mkdtempSync(join(remotes.scratch, "repo-"));
  execFileSync("git", ["init", "-q", "--bare", d]);
  return {
    name: "local",
    backend: () => new LocalLeaseBackend(d),
    message: (r) => messageIn(d, r),
    remote: false,
  };
}

const kinds: Array<[string, () => Kind]> = [
  [
    "on a git http-backend remote",
    () => ({
      name: "remote",
      backend: () => new RemoteLeaseBackend(remote.url, undefined),
      message: (r) => messageIn(remote.bareDir, r),
      remote: true,
    }),
  ],
  ["in a local repository", localKind],
];

describe.each(kinds)("lease batches %s", (_name, kindOf) => {
  it("takes 40 free leases in one push, renews them in one push and frees them in one push", async () => {
    const kind = kindOf();
    const refs = newRefs(40);
    const leases = new Leases(kind.backend(), { replica: "a", now: at(0) });
    const before = { pushes: pushes(), requests: remote.requests() };
    const answers = await leases.acquireMany(refs, "run-a");
    if (kind.remote) {
      expect(pushes() - before.pushes).toBe(1);
      // One listing of the refs (advertisement and ls-refs) and the push: nothing per ref.
      expect(remote.requests() - before.requests).toBeLessThanOrEqual(3);
    }
    for (const ref of refs) {
      expect(answers.get(ref)?.kind).toBe("acquired");
      expect(kind.message(ref)).toMatch(/State: held\nHolder: run-a\nReplica: a\n/);
    }

    const group = new LeaseGroup(leases);
    for (const ref of refs) {
      const a = answers.get(ref)!;
      if (a.kind === "acquired") group.add(a.lease, () => undefined);
    }
    const beforeRenew = pushes();
    expect(await group.renew()).toEqual([]);
    if (kind.remote) expect(pushes() - beforeRenew).toBe(1);
    for (const ref of refs) expect(kind.message(ref)).toMatch(/Renewals: 1\n/);

    const beforeRelease = pushes();
    await group.release();
    if (kind.remote) {
      expect(pushes() - beforeRelease).toBe(1);
      for (const ref of refs) expect(kind.message(ref)).toBeNull();
    } else {
      for (const ref of refs) expect(kind.message(ref)).toMatch(/State: released\n/);
    }
    // Freed: another holder takes them all at once.
    const next = await new Leases(kind.backend(), { replica: "b", now: at(0) }).acquireMany(refs, "run-b");
    expect([...next.values()].every((a) => a.kind === "acquired")).toBe(true);
  });

  it("in a batch where some are held, takes the free ones in one push and names the holders of the others", async () => {
    const kind = kindOf();
    const refs = newRefs(10);
    const other = new Leases(kind.backend(), { replica: "b", now: at(0) });
    const heldRefs = [refs[2]!, refs[7]!];
    for (const ref of heldRefs) expect((await other.acquire(ref, "run-b")).kind).toBe("acquired");
    const before = pushes();
    const answers = await new Leases(kind.backend(), { replica: "a", now: at(1000) }).acquireMany(
      refs,
      "run-a",
    );
    if (kind.remote) expect(pushes() - before).toBe(1);
    for (const ref of refs) {
      const a = answers.get(ref)!;
      if (heldRefs.includes(ref)) {
        expect(a.kind).toBe("held");
        if (a.kind === "held") expect(a.by.info).toMatchObject({ holder: "run-b", replica: "b" });
        expect(kind.message(ref)).toMatch(/Holder: run-b\n/);
      } else {
        expect(a.kind).toBe("acquired");
        expect(kind.message(ref)).toMatch(/Holder: run-a\n/);
      }
    }
  });

  it("gives each ref of two racing batches to exactly one of them", async () => {
    const kind = kindOf();
    const refs = newRefs(12);
    // Overlapping halves, taken at the same time: every shared ref has one winner.
    const a = new Leases(kind.backend(), { replica: "a", now: at(0) }).acquireMany(refs.slice(0, 8), "run-a");
    const b = new Leases(kind.backend(), { replica: "b", now: at(0) }).acquireMany(refs.slice(4), "run-b");
    const [ra, rb] = await Promise.all([a, b]);
    for (const ref of refs.slice(4, 8)) {
      const kinds = [ra.get(ref)!.kind, rb.get(ref)!.kind].sort();
      expect(kinds).toEqual(["acquired", "held"]);
      const winner = ra.get(ref)!.kind === "acquired" ? "run-a" : "run-b";
      expect(kind.message(ref)).toMatch(new RegExp(`Holder: ${winner}\\n`));
    }
    for (const ref of refs.slice(0, 4)) expect(ra.get(ref)!.kind).toBe("acquired");
    for (const ref of refs.slice(8)) expect(rb.get(ref)!.kind).toBe("acquired");
  });

  it("a renewal batch reports the lease another holder took over and renews the others", async () => {
    const kind = kindOf();
    const refs = newRefs(3);
    const leases = new Leases(kind.backend(), { replica: "stalled", durationMs: 1000, now: at(0) });
    const answers = await leases.acquireMany(refs, "run-a");
    const group = new LeaseGroup(leases);
    const lost: string[] = [];
    for (const ref of refs) {
      const a = answers.get(ref)!;
      if (a.kind === "acquired") group.add(a.lease, () => lost.push(ref));
    }
    // The holder stalled past its expiry: another run takes the first ref over.
    const taker = await new Leases(kind.backend(), { replica: "b", now: at(5000) }).acquire(
      refs[0]!,
      "run-b",
    );
    expect(taker.kind).toBe("acquired");
    expect(await group.renew()).toEqual([refs[0]]);
    expect(lost).toEqual([refs[0]]);
    expect(kind.message(refs[0]!)).toMatch(/Holder: run-b\n/);
    for (const ref of refs.slice(1)) expect(kind.message(ref)).toMatch(/Holder: run-a\n[\s\S]*Renewals: 1\n/);
    // The lost one is not freed with the others: it is not ours any more.
    await group.release();
    expect(kind.message(refs[0]!)).toMatch(/State: held\nHolder: run-b\n/);
  });
});
