import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimRef, LocalClaims, RemoteClaims } from "../../src/git/claims.js";
import { Leases, RemoteLeaseBackend } from "../../src/git/leases.js";
import { openMirror } from "../../src/git/repo-mirror.js";
import { BASE_FILES, TestRepo } from "../helpers/automation-repo.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";

let remote: GitHttpServer;
const repo = new TestRepo();
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "opsc-claims-"));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  remote = await startGitHttpServer();
  repo.commit(BASE_FILES);
  execFileSync("git", ["-C", repo.dir, "push", "-q", "--force", remote.bareDir, "main"]);
  execFileSync("git", ["-C", remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main"]);
});
afterAll(async () => {
  await remote.close();
  repo.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("claims on a Git smart-HTTP remote", () => {
  it("gives each id to exactly one of two replicas racing for it", async () => {
    const a = await openMirror(remote.url, tmp());
    const b = await openMirror(remote.url, tmp());
    const ra = new RemoteClaims(a.gitdir, remote.url, "replica-a");
    const rb = new RemoteClaims(b.gitdir, remote.url, "replica-b");
    const ids = Array.from({ length: 6 }, (_, i) => `delivery-${i}`);
    const results = await Promise.all(
      ids.map(async (id) => Promise.all([ra.claim("delivery", id), rb.claim("delivery", id)])),
    );
    for (const [wa, wb] of results) expect((wa.kind === "won") !== (wb.kind === "won")).toBe(true);
    // The server holds one ref per claimed id.
    const refs = execFileSync(
      "git",
      ["-C", remote.bareDir, "for-each-ref", "--format=%(refname)", "refs/opsconductor/claims/"],
      {
        encoding: "utf8",
      },
    );
    expect(refs.trim().split("\n").sort()).toEqual(ids.map((id) => claimRef("delivery", id)).sort());
  });

  it("refuses a second claim of the same id by the same replica", async () => {
    const a = await openMirror(remote.url, tmp());
    const ra = new RemoteClaims(a.gitdir, remote.url, "replica-a");
    expect((await ra.claim("schedule", "backup-0-2026-01-01T00:05:00.000Z")).kind).toBe("won");
    expect(await ra.claim("schedule", "backup-0-2026-01-01T00:05:00.000Z")).toMatchObject({
      kind: "held",
      replica: "replica-a",
    });
  });

  it("gives expired, unfinished work to one other replica, and finished work to nobody", async () => {
    const b = await openMirror(remote.url, tmp());
    const c = await openMirror(remote.url, tmp());
    // A one-second claim that replica-a never renews: it died right after claiming.
    const dead = new Leases(new RemoteLeaseBackend(remote.url, undefined), {
      replica: "replica-a",
      durationMs: 1000,
    });
    expect((await dead.acquire(claimRef("delivery", "orphan"), "delivery/orphan")).kind).toBe("acquired");
    const rb = new RemoteClaims(b.gitdir, remote.url, "replica-b", 60_000);
    const rc = new RemoteClaims(c.gitdir, remote.url, "replica-c", 60_000);
    const early = await rb.claim("delivery", "orphan");
    expect(early).toMatchObject({ kind: "held", replica: "replica-a" });
    await new Promise((r) => setTimeout(r, 1500));
    const [xb, xc] = await Promise.all([rb.claim("delivery", "orphan"), rc.claim("delivery", "orphan")]);
    const winners = [xb, xc].filter((x) => x.kind === "won");
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ kind: "won", takenOverFrom: "replica-a" });
    if (winners[0]!.kind === "won") await winners[0]!.done();
    expect((await rc.claim("delivery", "orphan")).kind).toBe("done");
  });
});

describe("claims in a local repository", () => {
  it("lets exactly one of many concurrent claimers win", async () => {
    const claims = Array.from({ length: 5 }, (_, i) => new LocalClaims(repo.gitdir, `r${i}`));
    const won = await Promise.all(claims.map((c) => c.claim("delivery", "abc")));
    expect(won.filter((w) => w.kind === "won")).toHaveLength(1);
  });

  it("keeps ids that could escape the claims folder inside it", () => {
    expect(claimRef("delivery", "../../heads/main")).toBe("refs/opsconductor/claims/delivery/heads-main");
  });
});
