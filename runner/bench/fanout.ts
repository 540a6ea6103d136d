/**
 * Fan-out benchmark: N OpenSSH targets on loopback (real sshd, several per
 * process, up to 16 addresses each), a job of 5 steps, run by the engine.
 * Reported as a ratio to a floor measured in the same run: plain ssh2, one
 * connection per host, the same commands exec'd at the same parallelism.
 * With `ansible-playbook` installed, the equivalent playbook too. Then peak
 * memory of the engine at 1,000 local targets.
 *
 * Run alone: npx tsx runner/bench/fanout.ts [N] [--no-ansible]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ParsedKey } from "ssh2";
import type { PlannedTarget } from "../src/core/plan-model.js";
import { runPlan } from "../src/run/run-plan.js";
import { Redactor } from "../src/secrets/redactor.js";
import { HandshakeLimiter } from "../src/transports/handshake-limiter.js";
import { LocalTransport } from "../src/transports/local-transport.js";
import { SshTransport } from "../src/transports/ssh-transport.js";
import { localTarget, simplePlan, step } from "../test/helpers/plan-fixture.js";
import { startSshd, type Sshd } from "../test/helpers/sshd.js";
import { floor, parsedKey, type FloorHost } from "./ssh2-floor.js";

export interface FanoutOptions {
  /** SSH targets (default 50). */
  targets?: number;
  /** Steps per job (default 5). */
  steps?: number;
  /** Local targets for the memory figure (default 1,000; 0 skips it). */
  localTargets?: number;
  /** Run Ansible when installed (default true). */
  ansible?: boolean;
  log?: (line: string) => void;
}

export interface FanoutResult {
  targets: number;
  steps: number;
  engineMs: number;
  floorMs: number;
  ratio: number;
  ansibleMs?: number;
  ansibleRatio?: number;
  peakRssMb?: number;
}

/** The floor's view of the bench's targets: address, the port and user of the sshd serving it, a key it accepts. */
export function floorHosts(
  addrs: string[],
  hostOf: (i: number) => { sshd: Sshd; host: string },
  keyOf: (i: number) => ParsedKey,
): FloorHost[] {
  return addrs.map((host, i) => ({
    host,
    port: hostOf(i).sshd.port,
    user: hostOf(i).sshd.user,
    key: keyOf(i),
  }));
}

export function address(i: number): string {
  return `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`;
}

export async function benchFanout(opts: FanoutOptions = {}): Promise<FanoutResult> {
  const n = opts.targets ?? 50;
  const stepsCount = opts.steps ?? 5;
  const log = opts.log ?? ((l: string) => console.log(l));
  const addrs = Array.from({ length: n }, (_, i) => address(i));
  const servers: Sshd[] = [];
  try {
    for (let i = 0; i < addrs.length; i += 16) servers.push(await startSshd(addrs.slice(i, i + 16)));
    const hostOf = (i: number): { sshd: Sshd; host: string } => ({
      sshd: servers[Math.floor(i / 16)]!,
      host: addrs[i]!,
    });
    // All servers share nothing but the user; each has its own client key pair.
    const keys = servers.map((s) => parsedKey(s.clientKey));
    const hosts = floorHosts(addrs, hostOf, (i) => keys[Math.floor(i / 16)]!);
    const commands = Array.from({ length: stepsCount }, (_, i) => `echo step${i} >/dev/null`);

    // Warm-up: the first connections pay for page cache and sshd's first fork.
    await floor(hosts.slice(0, Math.min(4, n)), commands);

    const f0 = performance.now();
    await floor(hosts, commands);
    const floorMs = performance.now() - f0;

    const targets: PlannedTarget[] = addrs.map((a, i) => ({
      name: `t${i}`,
      transport: "ssh",
      host: a,
      port: hostOf(i).sshd.port,
      user: hostOf(i).sshd.user,
      hostKeys: [hostOf(i).sshd.hostKey],
      shell: "sh",
      labels: {},
      vars: {},
    }));
    const plan = simplePlan(
      targets,
      commands.map((c, i) => step(`s${i}`, { run: c })),
    );
    plan.phases[0]!.parallel = n;
    const limiter = new HandshakeLimiter(n);
    const e0 = performance.now();
    const out = await runPlan(plan, {
      redactor: new Redactor(),
      transportFor: (t) => {
        const i = Number(t.name.slice(1));
        return new SshTransport({
          name: t.name,
          host: t.host!,
          port: t.port,
          user: t.user!,
          hostKeys: t.hostKeys,
          auth: { privateKey: keys[Math.floor(i / 16)]! },
          limiter,
        });
      },
    });
    const engineMs = performance.now() - e0;
    if (out.result !== "success") throw new Error(`bench run failed: ${JSON.stringify(out.counts)}`);
    const result: FanoutResult = {
      targets: n,
      steps: stepsCount,
      engineMs,
      floorMs,
      ratio: engineMs / floorMs,
    };
    log(
      `fan-out ${n} ssh targets x ${stepsCount} steps: engine ${engineMs.toFixed(0)} ms, ssh2 floor ${floorMs.toFixed(0)} ms, ratio ${result.ratio.toFixed(2)} (target <= 1.3)`,
    );

    if (opts.ansible !== false && spawnSync("ansible-playbook", ["--version"]).status === 0) {
      const ansibleMs = runAnsible(addrs, hostOf, servers, commands);
      result.ansibleMs = ansibleMs;
      result.ansibleRatio = ansibleMs / engineMs;
      log(
        `  ansible-playbook (forks ${n}, pipelining, no facts): ${ansibleMs.toFixed(0)} ms, ${result.ansibleRatio.toFixed(1)}x slower than the engine (target >= 10x)`,
      );
    } else if (opts.ansible !== false) {
      log("  ansible-playbook not installed: Ansible comparison skipped (apt-get install ansible)");
    }
  } finally {
    for (const s of servers) await s.stop();
  }

  const localCount = opts.localTargets ?? 1000;
  const result = { targets: n, steps: stepsCount } as FanoutResult;
  if (localCount > 0) {
    const peak = await localPeakMemory(localCount, stepsCount);
    log(
      `  peak RSS at ${localCount} local targets x ${stepsCount} steps: ${peak.toFixed(0)} MB (target < 300 MB)`,
    );
    result.peakRssMb = peak;
  }
  return result;
}

export function runAnsible(
  addrs: string[],
  hostOf: (i: number) => { sshd: Sshd; host: string },
  servers: Sshd[],
  commands: string[],
): number {
  const dir = mkdtempSync(join(tmpdir(), "opsc-ansible-"));
  try {
    const inventory = addrs
      .map((a, i) => {
        const s = hostOf(i).sshd;
        const keyFile = join(dir, `key${servers.indexOf(s)}`);
        writeFileSync(keyFile, s.clientKey, { mode: 0o600 });
        return `h${i} ansible_host=${a} ansible_port=${s.port} ansible_user=${s.user} ansible_ssh_private_key_file=${keyFile}`;
      })
      .join("\n");
    writeFileSync(join(dir, "hosts"), `[all]\n${inventory}\n`);
    const known = servers.flatMap((s) => s.addresses.map((a) => `[${a}]:${s.port} ${s.hostKey}`)).join("\n");
    writeFileSync(join(dir, "known_hosts"), `${known}\n`);
    const tasks = commands
      .map((c, i) => `    - name: s${i}\n      ansible.builtin.shell: ${JSON.stringify(c)}\n`)
      .join("");
    writeFileSync(join(dir, "play.yml"), `- hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`);
    writeFileSync(
      join(dir, "ansible.cfg"),
      `[defaults]\nforks = ${addrs.length}\nhost_key_checking = True\n[ssh_connection]\npipelining = True\nssh_args = -o UserKnownHostsFile=${join(dir, "known_hosts")} -o ControlMaster=auto -o ControlPersist=60s\n`,
    );
    const t0 = performance.now();
    execFileSync("ansible-playbook", ["-i", join(dir, "hosts"), join(dir, "play.yml")], {
      cwd: dir,
      env: { ...process.env, ANSIBLE_CONFIG: join(dir, "ansible.cfg") },
      stdio: "ignore",
    });
    return performance.now() - t0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function localPeakMemory(count: number, stepsCount: number): Promise<number> {
  const targets = Array.from({ length: count }, (_, i) => localTarget(`l${i}`));
  const plan = simplePlan(
    targets,
    Array.from({ length: stepsCount }, (_, i) =>
      step(`s${i}`, { run: `echo "line $i" ; echo out${i}=x >>"$OPSC_OUTPUT"` }),
    ),
  );
  plan.phases[0]!.parallel = count;
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const events: unknown[] = [];
  try {
    const out = await runPlan(plan, {
      redactor: new Redactor(),
      transportFor: (t) => new LocalTransport(t.name),
      // A listener that keeps what a recorder would: the summary only.
      listeners: [(e) => e.type === "target.finished" && events.push(e)],
    });
    if (out.result !== "success") throw new Error(`local run failed: ${JSON.stringify(out.counts)}`);
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return peak / (1024 * 1024);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 0);
  await benchFanout({ ...(n ? { targets: n } : {}), ansible: !process.argv.includes("--no-ansible") });
}
