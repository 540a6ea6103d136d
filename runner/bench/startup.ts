/**
 * Start-up and whole-process figures: what a user waits for, from typing the
 * command to the prompt, each as a ratio to a floor taken in the same run.
 *
 * - `opsc --version` and `opsc validate` against `node -e 0`;
 * - `opsc run` of 5 steps on N OpenSSH targets (real sshd on loopback), as a
 *   whole process: start-up, loading the repository, decrypting a real
 *   sops+age SSH key, connecting, running and committing the record (locally,
 *   --no-push), against plain ssh2 doing the same commands (ssh2-floor.ts),
 *   and against ansible-playbook where it is installed. The target is a ratio
 *   to that floor run in this (warm) process, as the issue that set it says;
 *   the same floor as a process of its own (start-up included, as a
 *   hand-written ssh2 script would run) is printed beside it, for context.
 *
 * Run alone: npx tsx runner/bench/startup.ts [--no-ansible]
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { git } from "../test/helpers/automation-repo.js";
import { startSshd, type Sshd } from "../test/helpers/sshd.js";
import { address, floorHosts, runAnsible } from "./fanout.js";
import { floor, parsedKey } from "./ssh2-floor.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const OPSC = join(ROOT, "runner/bin/opsc.js");

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

/** Wall time of one process, in ms; throws when it fails. */
function timed(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    encoding: "utf8",
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return ms;
}

export interface StartupResult {
  nodeMs: number;
  versionMs: number;
  validateMs: number;
}

/** `node -e 0`, `opsc --version`, `opsc validate`: interleaved rounds, medians. */
export function benchStartup(opts: { rounds?: number; log?: (l: string) => void } = {}): StartupResult {
  const rounds = opts.rounds ?? 11;
  const log = opts.log ?? ((l: string) => console.log(l));
  const node: number[] = [];
  const version: number[] = [];
  const validate: number[] = [];
  // One warm-up round: page cache, not start-up.
  for (let i = 0; i <= rounds; i++) {
    const n = timed(["-e", "0"]);
    const v = timed([OPSC, "--version"]);
    const c = timed([OPSC, "validate", "--repo", "examples/web-fleet"]);
    if (i === 0) continue;
    node.push(n);
    version.push(v);
    validate.push(c);
  }
  const r = { nodeMs: median(node), versionMs: median(version), validateMs: median(validate) };
  log(`start-up, median of ${rounds}: node -e 0 ${r.nodeMs.toFixed(0)} ms`);
  const verdict = (ratio: number, target: number): string => (ratio <= target ? "met" : "MISSED");
  const v = r.versionMs / r.nodeMs;
  const c = r.validateMs / r.nodeMs;
  log(
    `  opsc --version ${r.versionMs.toFixed(0)} ms, ${v.toFixed(2)}x node (target <= 1.5x: ${verdict(v, 1.5)})`,
  );
  log(
    `  opsc validate examples/web-fleet ${r.validateMs.toFixed(0)} ms, ${c.toFixed(2)}x node (target <= 3x: ${verdict(c, 3)})`,
  );
  return r;
}

export interface RunProcessResult {
  targets: number;
  runMs: number;
  floorMs: number;
  ratio: number;
  /** The floor as a whole process (start-up, loading ssh2), and opsc run's ratio to it. */
  floorProcessMs: number;
  processRatio: number;
  ansibleMs?: number;
}

/** ssh2-floor-process.ts as plain JavaScript for node, ssh2 loaded from node_modules as a script would. */
async function floorProcessScript(): Promise<string> {
  const out = join(ROOT, "dist/bench/ssh2-floor-process.mjs");
  await build({
    entryPoints: [join(ROOT, "runner/bench/ssh2-floor-process.ts")],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["ssh2"],
    logLevel: "warning",
  });
  return out;
}

/**
 * A whole `opsc run` process on `n` OpenSSH targets against the plain-ssh2
 * floor. Every sshd also accepts the first one's client key, so one
 * credential (one decryption) serves the whole fleet, as in a real repository.
 */
export async function benchRunProcess(
  n: number,
  opts: { rounds?: number; steps?: number; ansible?: boolean; log?: (l: string) => void } = {},
): Promise<RunProcessResult> {
  const rounds = opts.rounds ?? 3;
  const stepsCount = opts.steps ?? 5;
  const log = opts.log ?? ((l: string) => console.log(l));
  const addrs = Array.from({ length: n }, (_, i) => address(i));
  const servers: Sshd[] = [];
  const dir = mkdtempSync(join(tmpdir(), "opsc-bench-repo-"));
  const keyDir = mkdtempSync(join(tmpdir(), "opsc-bench-key-"));
  try {
    for (let i = 0; i < n; i += 16) servers.push(await startSshd(addrs.slice(i, i + 16)));
    const hostOf = (i: number): { sshd: Sshd; host: string } => ({
      sshd: servers[Math.floor(i / 16)]!,
      host: addrs[i]!,
    });
    const first = servers[0]!;
    const publicKey = readFileSync(join(first.dir, "client_ed25519.pub"), "utf8");
    for (const s of servers.slice(1)) appendFileSync(join(s.dir, "authorized_keys"), publicKey);
    const key = parsedKey(first.clientKey);
    const hosts = floorHosts(addrs, hostOf, () => key);
    const commands = Array.from({ length: stepsCount }, (_, i) => `echo step${i} >/dev/null`);

    const env = writeRepo(dir, join(keyDir, "keys.txt"), n, hostOf, first, commands);
    const spec = join(keyDir, "floor.json");
    writeFileSync(
      spec,
      JSON.stringify({
        hosts: hosts.map(({ host, port, user }) => ({ host, port, user })),
        keyFile: join(first.dir, "client_ed25519"),
        commands,
      }),
    );
    const floorArgs = [await floorProcessScript(), spec];

    const runArgs = [OPSC, "run", "fanout", "--repo", dir, "--no-push"];
    // Warm-up: page cache, sshd's first forks, the records branch's first commit.
    await floor(hosts.slice(0, Math.min(4, n)), commands);
    timed(runArgs, { env });
    timed(floorArgs);
    const floors: number[] = [];
    const floorProcesses: number[] = [];
    const runs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const f0 = performance.now();
      await floor(hosts, commands);
      floors.push(performance.now() - f0);
      floorProcesses.push(timed(floorArgs));
      runs.push(timed(runArgs, { env }));
    }
    const result: RunProcessResult = {
      targets: n,
      runMs: median(runs),
      floorMs: median(floors),
      ratio: median(runs) / median(floors),
      floorProcessMs: median(floorProcesses),
      processRatio: median(runs) / median(floorProcesses),
    };
    log(
      `whole opsc run process, ${n} ssh targets x ${stepsCount} steps (load, decrypt, run, record), median of ${rounds}: ` +
        `${result.runMs.toFixed(0)} ms, ssh2 floor ${result.floorMs.toFixed(0)} ms, ratio ${result.ratio.toFixed(2)} ` +
        `(target <= 1.3: ${result.ratio <= 1.3 ? "met" : "MISSED"})`,
    );
    log(
      `  the same floor as a process of its own (node start-up, loading ssh2): ${result.floorProcessMs.toFixed(0)} ms, ` +
        `opsc run ${result.processRatio.toFixed(2)}x that`,
    );
    if (opts.ansible !== false && spawnSync("ansible-playbook", ["--version"]).status === 0) {
      const ansibleMs = runAnsible(addrs, hostOf, servers, commands);
      result.ansibleMs = ansibleMs;
      const x = ansibleMs / result.runMs;
      log(
        `  ansible-playbook: ${ansibleMs.toFixed(0)} ms, ${x.toFixed(1)}x slower than opsc run (target >= 12x: ${x >= 12 ? "met" : "MISSED"})`,
      );
    } else if (opts.ansible !== false) {
      log("  ansible-playbook not installed: Ansible comparison skipped (apt-get install ansible)");
    }
    return result;
  } finally {
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(keyDir, { recursive: true, force: true });
  }
}

/** An automation repository with one target per address, a sops+age credential and a 5-step job. */
export function writeRepo(
  dir: string,
  keyFile: string,
  n: number,
  hostOf: (i: number) => { sshd: Sshd; host: string },
  keyOwner: Sshd,
  commands: string[],
): NodeJS.ProcessEnv {
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const env: NodeJS.ProcessEnv = { ...process.env, SOPS_AGE_KEY_FILE: keyFile };
  delete env.SOPS_AGE_KEY;
  const cli = (args: string[], input = ""): string => {
    const r = spawnSync(process.execPath, [OPSC, ...args], { cwd: dir, env, input, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`opsc ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  write("opsconductor.yaml", "name: bench\nrecords: { branch: opsconductor/runs, push: false }\n");
  const recipient = cli(["secrets", "keygen", "-o", keyFile]);
  write(
    ".sops.yaml",
    `creation_rules:\n  - path_regex: ^credentials/.*\\.sops\\.yaml$\n    age: ${recipient}\n`,
  );
  cli(["secrets", "set", "credentials/bench.sops.yaml", "ssh.private_key"], keyOwner.clientKey);
  const targets = Array.from({ length: n }, (_, i) => {
    const { sshd, host } = hostOf(i);
    return `  t${i}: { host: ${host}, port: ${sshd.port}, user: ${sshd.user}, host_key: "${sshd.hostKey}" }\n`;
  }).join("");
  write(
    "targets/bench.yaml",
    `defaults:\n  credential: bench/ssh\n  shell: sh\n  labels: { role: bench }\ntargets:\n${targets}`,
  );
  const steps = commands.map((c, i) => `  - id: s${i}\n    run: ${JSON.stringify(c)}\n`).join("");
  write(
    "jobs/fanout.yaml",
    `description: Fan-out benchmark\non: { manual: true }\ntargets: { match: { role: bench } }\nstrategy: { parallel: ${n} }\nsteps:\n${steps}`,
  );
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "bench repository");
  return env;
}

export async function benchStartupAll(opts: { ansible?: boolean } = {}): Promise<void> {
  benchStartup();
  await benchRunProcess(20, opts);
  await benchRunProcess(100, { ...opts, ansible: false });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchStartupAll({ ansible: !process.argv.includes("--no-ansible") });
}
