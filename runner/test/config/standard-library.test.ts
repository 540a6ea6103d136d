/**
 * Every step of the standard library (library/steps/) runs twice on a real
 * Debian target, this machine's own sshd logged in as root, with harmless
 * inputs: `changed`, then `ok`. A second job undoes it all, also twice.
 * dnf steps need an RPM system and are not run here.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { ParsedKey } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/core/run-events.js";
import { buildPlan } from "../../src/plan/build-plan.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { runPlan } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { PROJECT_ROOT } from "../helpers/opsc-cli.js";
import { SSHD_PATH, startSshd, type Sshd } from "../helpers/sshd.js";
import { clientKey, sshTransportFor } from "../helpers/ssh-targets.js";

const isDebianRoot = process.getuid?.() === 0 && spawnSync("dpkg", ["--version"]).status === 0;
const PKG = "libnumber-compare-perl";
// Only from the local apt cache: tests never reach the network.
const aptOffline =
  spawnSync("apt-get", ["install", "-s", "--no-download", PKG]).status === 0 &&
  spawnSync("dpkg-query", ["-W", "-f=${Status}", PKG], { encoding: "utf8" }).stdout !==
    "install ok installed";
const USER = "opsc-lib-user";
const GROUP = "opsc-lib-group";
const SERVICE = "opsc-lib-service";

function libraryFiles(): Record<string, string> {
  const root = join(PROJECT_ROOT, "library/steps");
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else out[`steps/${relative(root, full)}`] = readFileSync(full, "utf8");
    }
  };
  walk(root);
  return out;
}

describe.skipIf(!SSHD_PATH || !isDebianRoot)("standard library on this machine as root", () => {
  let sshd: Sshd;
  let key: ParsedKey;
  let dir: string;
  let swappiness: string;

  beforeAll(async () => {
    sshd = await startSshd(["127.0.0.8"], { permitRootLogin: true });
    key = clientKey(sshd);
    dir = mkdtempSync(join(tmpdir(), "opsc-lib-"));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "app.ini"), "name=x\nhello=0\n");
    swappiness = readFileSync("/proc/sys/vm/swappiness", "utf8").trim();
    // A harmless System V service: a sleep with a pid file.
    writeFileSync(
      `/etc/init.d/${SERVICE}`,
      `#!/bin/sh\npid=${dir}/svc.pid\ncase "$1" in\n start) sleep 600 </dev/null >/dev/null 2>&1 & echo $! >"$pid" ;;\n stop) [ -f "$pid" ] && kill "$(cat "$pid")"; rm -f "$pid" ;;\n status) [ -f "$pid" ] && kill -0 "$(cat "$pid")" ;;\nesac\n`,
      { mode: 0o755 },
    );
  }, 60_000);

  afterAll(async () => {
    spawnSync("sh", ["-c", `[ -f ${dir}/svc.pid ] && kill "$(cat ${dir}/svc.pid)"`]);
    rmSync(`/etc/init.d/${SERVICE}`, { force: true });
    spawnSync("userdel", [USER]);
    spawnSync("groupdel", [GROUP]);
    if (swappiness) spawnSync("sysctl", ["-q", "-w", `vm.swappiness=${swappiness}`]);
    if (aptOffline)
      spawnSync("apt-get", ["remove", "-y", "-q", PKG], {
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function runTwice(jobYaml: string): Promise<Array<Record<string, string>>> {
    const text: Record<string, string> = {
      "opsconductor.yaml": "name: lib\n",
      "targets/here.yaml": `targets:\n  here: { host: 127.0.0.8, port: ${sshd.port}, user: root, host_key: "${sshd.hostKey}" }\n`,
      ...libraryFiles(),
      "jobs/j.yaml": jobYaml,
    };
    const enc = new TextEncoder();
    const { model, diagnostics } = loadRepo({
      files: new Map(Object.entries(text).map(([k, v]) => [k, enc.encode(v)])),
    });
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const results: Array<Record<string, string>> = [];
    for (let i = 0; i < 2; i++) {
      const { plan } = buildPlan(model, { job: "j", trigger: { kind: "manual", actor: "test" } });
      const events: RunEvent[] = [];
      await runPlan(plan!, {
        redactor: new Redactor(),
        transportFor: sshTransportFor(key),
        listeners: [(e) => events.push(e)],
      });
      const reasons = events.flatMap((e) =>
        e.type === "step.finished" && e.outcome === "failed" ? [`${e.step}: ${e.reason}`] : [],
      );
      expect(reasons).toEqual([]);
      results.push(
        Object.fromEntries(
          events.flatMap((e) =>
            e.type === "step.finished"
              ? [[e.step, e.outcome === "ok" && e.reason ? `${e.outcome} (${e.reason})` : e.outcome]]
              : e.type === "target.finished"
                ? [[`target ${e.target}`, e.outcome]]
                : [],
          ),
        ),
      );
    }
    return results;
  }

  it("every step is changed on the first run and ok (already done) on the second, then undone the same way", async () => {
    const apt = aptOffline
      ? `  - { id: apt-install, uses: apt/install, with: { packages: [${PKG}], options: [--no-download] } }\n`
      : "";
    const setup =
      "targets: { names: [here] }\nsteps:\n" +
      apt +
      `  - { id: group, uses: group, with: { name: ${GROUP} } }\n` +
      `  - { id: user, uses: user, with: { name: ${USER}, shell: /bin/sh, system: true, groups: [${GROUP}] } }\n` +
      `  - { id: directory, uses: directory, with: { path: "${dir}/data/sub", mode: "0750", group: ${GROUP} } }\n` +
      `  - { id: line, uses: file/line, with: { path: "${dir}/app.ini", line: "hello=1", regexp: "^hello=" } }\n` +
      `  - { id: sysctl, uses: sysctl, with: { name: vm.swappiness, value: "${Number(swappiness) === 100 ? 99 : Number(swappiness) + 1}" } }\n` +
      `  - { id: service, uses: service/state, with: { name: ${SERVICE}, state: started } }\n`;
    const [first, second] = await runTwice(setup);
    const ids = [
      "group",
      "user",
      "directory",
      "line",
      "sysctl",
      "service",
      ...(aptOffline ? ["apt-install"] : []),
    ];
    for (const id of ids) {
      expect(first![id], id).toBe("changed");
      // A passing check is `ok`: already in the desired state, nothing changed.
      expect(second![id], id).toBe("ok (check passed: already done)");
    }
    expect([first!["target here"], second!["target here"]]).toEqual(["changed", "ok"]);
    expect(readFileSync(join(dir, "app.ini"), "utf8")).toBe("name=x\nhello=1\n");
    expect(statSync(join(dir, "data/sub")).mode & 0o777).toBe(0o750);
    expect(execFileSync("id", ["-nG", USER], { encoding: "utf8" })).toContain(GROUP);

    const teardown =
      "targets: { names: [here] }\nsteps:\n" +
      (aptOffline ? `  - { id: apt-remove, uses: apt/remove, with: { packages: [${PKG}] } }\n` : "") +
      `  - { id: service, uses: service/state, with: { name: ${SERVICE}, state: stopped } }\n` +
      `  - { id: user, uses: user, with: { name: ${USER}, state: absent } }\n` +
      `  - { id: group, uses: group, with: { name: ${GROUP}, state: absent } }\n` +
      `  - { id: sysctl, uses: sysctl, with: { name: vm.swappiness, value: "${swappiness}" } }\n`;
    const [undo, again] = await runTwice(teardown);
    for (const id of ["service", "user", "group", "sysctl", ...(aptOffline ? ["apt-remove"] : [])]) {
      expect(undo![id], id).toBe("changed");
      expect(again![id], id).toBe("ok (check passed: already done)");
    }
    expect(again!["target here"]).toBe("ok");

    // Every library step ran above, but those this machine cannot run.
    const used = [...`${setup}${teardown}`.matchAll(/uses: ([\w/]+)/g)].map((m) => m[1]);
    const notHere = ["dnf/install", "dnf/remove", ...(aptOffline ? [] : ["apt/install", "apt/remove"])];
    const library = Object.keys(libraryFiles()).map((f) => f.replace(/^steps\//, "").replace(/\.yaml$/, ""));
    expect(new Set([...used, ...notHere])).toEqual(new Set(library));
  }, 300_000);

  it.skipIf(aptOffline)(
    `apt steps: skipped, ${PKG} is not in the local apt cache (tests never reach the network)`,
    () => {},
  );
});
