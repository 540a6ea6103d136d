import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { register } from "../../src/cli/commands/discover.js";
import { expandAddresses } from "../../src/discover/address-range.js";
import type { ProbeResult } from "../../src/discover/probe-ssh.js";
import { scanAddresses } from "../../src/discover/scan.js";
import { discoveredTargets } from "../../src/discover/discovered-targets.js";
import type { PlannedTarget } from "../../src/core/plan-model.js";
import { checkTargets } from "../../src/transports/check-targets.js";
import { createTransportFactory } from "../../src/transports/transport-factory.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { readRepoCommit } from "../../src/git/read-tree.js";
import { TestRepo, git } from "../helpers/automation-repo.js";
import { SSHD_PATH, startSshd, type Sshd } from "../helpers/sshd.js";

// Three real OpenSSH servers, a service that is not SSH, a listener that never
// speaks, and closed ports, all on 127.0.0.x at one port.
const SSH = ["127.0.0.2", "127.0.0.3", "127.0.0.5"];
let sshd: Sshd;
const listeners: Server[] = [];
const sockets = new Set<Socket>();
const TIMEOUT = 1500;

async function listen(host: string, port: number, onConnect: (s: Socket) => void): Promise<void> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    onConnect(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  listeners.push(server);
}

beforeAll(async () => {
  sshd = await startSshd(SSH);
  await listen("127.0.0.4", sshd.port, (s) => s.write("220 smtp.example.test ESMTP ready\r\n"));
  await listen("127.0.0.6", sshd.port, () => undefined);
}, 30_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
  await sshd?.stop();
});

describe.skipIf(!SSHD_PATH)("scanning 127.0.0.x", () => {
  let results: ProbeResult[] = [];
  beforeAll(async () => {
    const addresses = expandAddresses(["127.0.0.0/29", "127.0.0.9"]);
    results = await scanAddresses(addresses, { port: sshd.port, concurrency: 4, timeoutMs: TIMEOUT });
  }, 30_000);

  const at = (a: string) => results.find((r) => r.address === a);

  it("probes every address of the block but its network and broadcast address", () => {
    expect(results.map((r) => r.address)).toEqual([
      "127.0.0.1",
      "127.0.0.2",
      "127.0.0.3",
      "127.0.0.4",
      "127.0.0.5",
      "127.0.0.6",
      "127.0.0.9",
    ]);
  });

  it("reads the banner and the host key of each OpenSSH server without logging in", () => {
    for (const a of SSH) {
      const r = at(a);
      expect(r?.state).toBe("ssh");
      expect(r?.banner).toMatch(/^SSH-2\.0-OpenSSH_/);
      expect(r?.hostKeys).toEqual([sshd.hostKey]);
    }
    // The servers saw no authentication attempt at all.
    expect(sshd.log()).not.toMatch(/Failed|Accepted|Invalid user/);
  });

  it("pins keys that the SSH transport then accepts (and a wrong pin is refused)", async () => {
    const [found] = discoveredTargets([at("127.0.0.2")!], { prefix: "host-", now: new Date() });
    const pinned = found!.fields.host_key as string;
    const planned = (hostKeys: string[]): PlannedTarget => ({
      name: found!.id,
      transport: "ssh",
      host: "127.0.0.2",
      port: sshd.port,
      user: sshd.user,
      credential: "lab/ssh",
      hostKeys,
      shell: "sh",
      labels: {},
      vars: {},
    });
    const factory = createTransportFactory({ credentials: { get: () => ({ private_key: sshd.clientKey }) } });
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const [ok, refused] = await checkTargets([planned([pinned]), planned([other])], factory.transportFor, {
      timeoutMs: 10_000,
    });
    expect(ok).toMatchObject({ ok: true });
    expect(refused).toMatchObject({ ok: false, code: "ssh.host-key-mismatch" });
  }, 30_000);

  it("tells a non-SSH service, a silent listener and closed ports apart", () => {
    expect(at("127.0.0.4")).toMatchObject({
      state: "not-ssh",
      banner: "220 smtp.example.test ESMTP ready",
      hostKeys: [],
    });
    expect(at("127.0.0.6")).toMatchObject({
      state: "not-ssh",
      error: `open, but nothing said within ${TIMEOUT} ms`,
      hostKeys: [],
    });
    expect(at("127.0.0.1")).toMatchObject({ state: "closed", error: "ECONNREFUSED" });
    expect(at("127.0.0.9")).toMatchObject({ state: "closed", error: "ECONNREFUSED" });
  });
});

describe("address ranges", () => {
  it("refuses more than a /16 without --force, and what is not IPv4", () => {
    expect(() => expandAddresses(["10.0.0.0/8"])).toThrow(
      "10.0.0.0/8 holds 16777216 addresses; more than a /16 needs --force",
    );
    expect(expandAddresses(["10.0.0.0/16"])).toHaveLength(65534);
    expect(() => expandAddresses(["10.0.0.0/33"])).toThrow(/is not an IPv4 address or CIDR block/);
    expect(() => expandAddresses(["fe80::1/64"])).toThrow(/IPv6 is not scanned/);
    expect(() => expandAddresses(["300.0.0.1"])).toThrow(/not an IPv4 address/);
    expect(expandAddresses(["192.168.1.77/30", "192.168.1.78"])).toEqual(["192.168.1.77", "192.168.1.78"]);
    expect(expandAddresses(["192.168.1.7/31"])).toEqual(["192.168.1.6", "192.168.1.7"]);
  });
});

describe.skipIf(!SSHD_PATH)("opsc discover", () => {
  let dir = "";
  let repo: TestRepo | undefined;
  afterEach(() => {
    vi.restoreAllMocks();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = "";
    repo?.remove();
    repo = undefined;
  });

  async function run(cwd: string, ...args: string[]): Promise<string> {
    let out = "";
    const sink = (s: string | Uint8Array) => ((out += String(s)), true);
    vi.spyOn(process.stdout, "write").mockImplementation(sink);
    vi.spyOn(process.stderr, "write").mockImplementation(sink);
    vi.spyOn(process, "cwd").mockReturnValue(cwd);
    const program = new Command("opsc").exitOverride();
    register(program);
    await program.parseAsync(args, { from: "user" });
    return out;
  }

  const scanArgs = () => [
    "discover",
    "127.0.0.1/32",
    "127.0.0.2",
    "127.0.0.3",
    "127.0.0.4",
    "--port",
    String(sshd.port),
    "--timeout",
    "800",
  ];

  it("merges new SSH servers into a targets file, keeping its comments and entries", async () => {
    dir = mkdtempSync(join(tmpdir(), "opsc-discover-"));
    const file = join(dir, "targets.yaml");
    const existing = `# Lab hosts. Owner: platform team.
targets:
  # known already, under its own name
  lab-b: { host: 127.0.0.3, port: ${sshd.port}, host_key: "${sshd.hostKey}" } # pinned by hand
`;
    writeFileSync(file, existing);
    const out = await run(dir, ...scanArgs(), "--write", file);
    expect(out).toMatch(/127\.0\.0\.2\s+\d+\s+ssh\s+SSH-2\.0-OpenSSH_.*\s+ssh-ed25519 SHA256:/);
    expect(out).toMatch(/127\.0\.0\.4\s+\d+\s+not-ssh\s+220 smtp\.example\.test ESMTP ready/);
    expect(out).toContain("scanned 4 address(es)");
    expect(out).toContain(
      `skipped host-127-0-0-3-${sshd.port}: 127.0.0.3:${sshd.port} is already target lab-b`,
    );
    expect(out).toContain("1 target(s) added");
    const text = readFileSync(file, "utf8");
    expect(text.startsWith(existing)).toBe(true);
    expect(text).toMatch(
      new RegExp(
        `# discovered \\d{4}-\\d{2}-\\d{2}: SSH-2\\.0-OpenSSH.* SHA256:\\S+\\n  host-127-0-0-2-${sshd.port}:`,
      ),
    );
    const { model, diagnostics } = loadRepo({
      files: new Map([
        ["opsconductor.yaml", new Uint8Array()],
        ["targets/lab.yaml", new TextEncoder().encode(text)],
      ]),
    });
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(model.targets.get(`host-127-0-0-2-${sshd.port}`)).toMatchObject({
      host: "127.0.0.2",
      port: sshd.port,
      hostKeys: [sshd.hostKey],
    });
    expect(model.targets.get("lab-b")?.host).toBe("127.0.0.3");
  }, 30_000);

  it("--branch commits the change to a new branch on top of HEAD, leaving the working tree alone", async () => {
    repo = new TestRepo("opsc-discover-repo-");
    const head = repo.commit({
      "opsconductor.yaml": "name: lab\n",
      "targets/lab.yaml": `# hand-written\ntargets:\n  lab-c: { host: 127.0.0.3, port: ${sshd.port}, host_key: "${sshd.hostKey}" }\n`,
    });
    const out = await run(
      repo.dir,
      ...scanArgs(),
      "--write",
      "targets/discovered.yaml",
      "--branch",
      "discover/lab",
    );
    // lab-c lives in another file of the repository: still not added twice.
    expect(out).toContain(
      `skipped host-127-0-0-3-${sshd.port}: 127.0.0.3:${sshd.port} is already target lab-c`,
    );
    expect(out).toMatch(/branch discover\/lab created at [0-9a-f]{12} on top of [0-9a-f]{12}/);
    expect(git(repo.dir, "status", "--porcelain")).toBe("");
    expect(git(repo.dir, "rev-parse", "HEAD")).toBe(head);
    expect(git(repo.dir, "rev-parse", "discover/lab^")).toBe(head);
    expect(git(repo.dir, "diff", "--name-only", head, "discover/lab")).toBe("targets/discovered.yaml");
    // git itself reads the objects isomorphic-git wrote.
    execFileSync("git", ["fsck", "--strict"], { cwd: repo.dir, stdio: "ignore" });
    const files = await readRepoCommit(repo.gitdir, "refs/heads/discover/lab");
    const { model, diagnostics } = loadRepo(files);
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(model.targets.get(`host-127-0-0-2-${sshd.port}`)?.hostKeys).toEqual([sshd.hostKey]);

    await expect(
      run(repo.dir, ...scanArgs(), "--write", "targets/discovered.yaml", "--branch", "discover/lab"),
    ).rejects.toThrow("branch discover/lab already exists");
  }, 30_000);

  it("refuses --branch without --write, a path outside targets/, and a huge range", async () => {
    dir = mkdtempSync(join(tmpdir(), "opsc-discover-"));
    await expect(run(dir, "discover", "127.0.0.2", "--branch", "x")).rejects.toThrow(
      "--branch needs --write FILE",
    );
    await expect(run(dir, "discover", "10.0.0.0/8")).rejects.toThrow(/more than a \/16 needs --force/);
    repo = new TestRepo("opsc-discover-repo-");
    repo.commit({ "opsconductor.yaml": "name: lab\n" });
    await expect(
      run(repo.dir, "discover", "127.0.0.2", "--write", "../x.yaml", "--branch", "b"),
    ).rejects.toThrow(/with --branch, give a targets file path inside the repository/);
  });
});
