/**
 * Configuration management against a real OpenSSH sshd on loopback: one target
 * logs in as root, one as a normal user with sudo (password). Templates render
 * per target with merged vars and facts; a second run is all `ok`; `--check`
 * shows a diff; owner, group and mode are as asked; a failed write keeps the old
 * file; secret content never shows; handlers run once after a change; tags and
 * --start-at select what the plan says.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ParsedKey } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan, StepSelection } from "../../src/core/plan-model.js";
import type { RunEvent } from "../../src/core/run-events.js";
import { buildPlan } from "../../src/plan/build-plan.js";
import { RunRecorder } from "../../src/records/run-recorder.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { runPlan } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { SSHD_PATH, startSshd, type Sshd } from "../helpers/sshd.js";
import { clientKey, sshTransportFor } from "../helpers/ssh-targets.js";

const isRoot = process.getuid?.() === 0;
const SECRET_OLD = "s3cret-token-OLD-4f1d";
const SECRET_NEW = "s3cret-token-NEW-9a7c";
const TEMPLATE = [
  "# {{ target.name }}",
  "port={{ vars.port }}",
  "greeting={{ vars.greeting | upcase }}",
  "os={{ facts.os_id }} cpus={{ facts.cpus }}",
  "{% for u in vars.users %}user={{ u }}",
  "{% endfor %}",
].join("\n");

function files(dir: string, sshd: Sshd, template = TEMPLATE, token = SECRET_OLD): Map<string, Uint8Array> {
  const text: Record<string, string> = {
    "opsconductor.yaml": "name: config-test\n",
    "targets/web.yaml": [
      `defaults: { port: ${sshd.port}, host_key: "${sshd.hostKey}", labels: { role: web } }`,
      "targets:",
      `  web-root: { host: 127.0.0.6, user: root, vars: { dir: "${dir}/root" } }`,
      `  web-user: { host: 127.0.0.7, user: ${sshd.user}, vars: { dir: "${dir}/user", port: 9090 } }`,
      "",
    ].join("\n"),
    "vars/00-all.yaml": "vars:\n  greeting: hello\n  port: 80\n  users: [ann, bob]\n",
    "vars/10-web.yaml": "match: { role: web }\nvars:\n  port: 8080\n",
    "files/app.conf": template,
    "files/token.txt": `${token}\n`,
    "jobs/site.yaml": [
      "facts: true",
      "targets: { match: { role: web } }",
      "steps:",
      "  - id: conf",
      '    copy: { src: files/app.conf, dest: "${{ target.vars.dir }}/app.conf", template: true, mode: "0640", owner: root, group: daemon }',
      "    sudo: true",
      "    tags: [conf]",
      "    notify: [reload]",
      "  - id: token",
      '    copy: { src: files/token.txt, dest: "${{ target.vars.dir }}/token", secret: true, mode: "0600" }',
      "    sudo: true",
      "    tags: [secret]",
      "    notify: [reload]",
      "  - id: other",
      "    run: echo other-ran",
      "    tags: [other]",
      "handlers:",
      "  - id: reload",
      "    run: echo reloaded",
      "",
    ].join("\n"),
  };
  const enc = new TextEncoder();
  return new Map(Object.entries(text).map(([k, v]) => [k, enc.encode(v)]));
}

describe.skipIf(!SSHD_PATH || !isRoot)("copy, templates, vars, facts, handlers, tags over SSH", () => {
  let sshd: Sshd;
  let key: ParsedKey;
  let dir: string;

  beforeAll(async () => {
    sshd = await startSshd(["127.0.0.6", "127.0.0.7"], { permitRootLogin: true });
    key = clientKey(sshd);
    dir = mkdtempSync(join(tmpdir(), "opsc-copy-"));
    chmodSync(dir, 0o755);
  }, 60_000);
  afterAll(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function planOf(
    repo: Map<string, Uint8Array>,
    extra: { checkMode?: boolean; selection?: StepSelection } = {},
  ): Plan {
    const { model, diagnostics } = loadRepo({ files: repo });
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const { plan, diagnostics: problems } = buildPlan(model, {
      job: "site",
      trigger: { kind: "manual", actor: "test" },
      ...extra,
    });
    expect(problems).toEqual([]);
    // The normal user's sudo asks for its password.
    plan!.targets["web-user"]!.sudo = { enabled: true, password: "test/sudo.password" };
    return plan!;
  }

  async function run(plan: Plan, repo: Map<string, Uint8Array>) {
    const events: RunEvent[] = [];
    const redactor = new Redactor();
    const recorder = new RunRecorder(plan, "run-1", redactor);
    const outcome = await runPlan(plan, {
      runId: "run-1",
      redactor,
      readRepoFile: (p) => repo.get(p),
      sudoPassword: () => sshd.password,
      transportFor: sshTransportFor(key, { connectTimeoutMs: 10_000 }),
      listeners: [(e) => events.push(e), recorder.listener],
    });
    const outcomes = (target: string) =>
      Object.fromEntries(
        events
          .filter((e): e is Extract<RunEvent, { type: "step.finished" }> => e.type === "step.finished")
          .filter((e) => e.target === target)
          .map((e) => [e.step, e.outcome]),
      );
    const output = (target: string, step: string) =>
      events
        .filter((e): e is Extract<RunEvent, { type: "step.output" }> => e.type === "step.output")
        .filter((e) => e.target === target && e.step === step)
        .map((e) => e.line);
    return { outcome, events, outcomes, output, summary: recorder.summary(), logs: recorder.targetLogs() };
  }

  it("renders per target with merged vars and facts, sets owner/group/mode, runs the handler once; a second run is ok", async () => {
    const repo = files(dir, sshd);
    const first = await run(planOf(repo), repo);
    expect(first.outcome.result).toBe("success");
    const osId = /^ID=(.*)$/m.exec(readFileSync("/etc/os-release", "utf8"))![1]!.replace(/"/g, "");
    for (const [name, port] of [
      ["web-root", 8080],
      ["web-user", 9090],
    ] as const) {
      expect(first.outcomes(name)).toEqual({
        conf: "changed",
        token: "changed",
        other: "changed",
        "handler/reload": "changed",
      });
      const sub = name === "web-root" ? "root" : "user";
      const path = join(dir, sub, "app.conf");
      expect(readFileSync(path, "utf8")).toBe(
        `# ${name}\nport=${port}\ngreeting=HELLO\nos=${osId} cpus=${execFileSync("nproc", {
          encoding: "utf8",
        }).trim()}\nuser=ann\nuser=bob\n`,
      );
      const st = statSync(path);
      expect(st.mode & 0o7777).toBe(0o640);
      expect(st.uid).toBe(0);
      expect(st.gid).toBe(
        Number(execFileSync("getent", ["group", "daemon"], { encoding: "utf8" }).split(":")[2]),
      );
      expect(statSync(join(dir, sub, "token")).mode & 0o7777).toBe(0o600);
      // Handler: once, although two steps notified it.
      expect(
        first.events.filter(
          (e) => e.type === "step.started" && e.target === name && e.step === "handler/reload",
        ),
      ).toHaveLength(1);
      const facts = first.summary.targets.find((t) => t.name === name)!.facts!;
      expect(facts.os_id).toBe(osId);
      expect(facts.package_manager).toBeTypeOf("string");
    }
    // No temporary files left next to the destinations.
    expect(readdirSync(join(dir, "root")).sort()).toEqual(["app.conf", "token"]);

    const second = await run(planOf(repo), repo);
    for (const name of ["web-root", "web-user"]) {
      expect(second.outcomes(name)).toEqual({ conf: "ok", token: "ok", other: "changed" });
    }
  }, 120_000);

  it("--check after a template change shows the diff line and changes nothing; a secret's diff never shows", async () => {
    const repo = files(dir, sshd, TEMPLATE.replace("port=", "listen_port="), SECRET_NEW);
    const before = readFileSync(join(dir, "user", "app.conf"), "utf8");
    const checked = await run(planOf(repo, { checkMode: true }), repo);
    expect(checked.outcomes("web-user").conf).toBe("changed");
    const lines = checked.output("web-user", "conf");
    expect(lines).toContain("-port=9090");
    expect(lines).toContain("+listen_port=9090");
    expect(readFileSync(join(dir, "user", "app.conf"), "utf8")).toBe(before);
    expect(checked.outcomes("web-user").token).toBe("changed");
    expect(checked.output("web-user", "token").join("\n")).toContain("diff not shown (secret content)");
    const everything =
      JSON.stringify(checked.events) + JSON.stringify(checked.summary) + JSON.stringify([...checked.logs]);
    expect(everything).not.toContain(SECRET_OLD);
    expect(everything).not.toContain(SECRET_NEW);
    // The real run writes the new secret, still without showing it.
    const real = await run(planOf(repo), repo);
    expect(real.outcomes("web-user").token).toBe("changed");
    const all = JSON.stringify(real.events) + JSON.stringify([...real.logs]);
    expect(all).not.toContain(SECRET_NEW);
    expect(readFileSync(join(dir, "user", "token"), "utf8")).toBe(`${SECRET_NEW}\n`);
  }, 120_000);

  it("a failed write leaves the old file intact and no temporary file behind; notified handlers are skipped", async () => {
    const repo = files(dir, sshd, "changed content\n", "another token\n");
    const text = new TextDecoder()
      .decode(repo.get("jobs/site.yaml"))
      .replace('mode: "0600" }', 'mode: "0600", owner: no-such-user-opsc }');
    repo.set("jobs/site.yaml", new TextEncoder().encode(text));
    const before = readFileSync(join(dir, "root", "token"), "utf8");
    const r = await run(planOf(repo), repo);
    expect(r.outcomes("web-root").conf).toBe("changed");
    expect(r.outcomes("web-root").token).toBe("failed");
    expect(readFileSync(join(dir, "root", "token"), "utf8")).toBe(before);
    expect(readdirSync(join(dir, "root")).sort()).toEqual(["app.conf", "token"]);
    // conf notified the handler, but the phase failed on this target: it does not run.
    expect(r.outcomes("web-root")["handler/reload"]).toBe("skipped");
    expect(
      r.events.some(
        (e) => e.type === "step.started" && e.target === "web-root" && e.step === "handler/reload",
      ),
    ).toBe(false);
  }, 120_000);

  it("--tags and --start-at run exactly the steps the plan selects", async () => {
    const repo = files(dir, sshd);
    for (const selection of [
      { tags: ["other"], skipTags: [] },
      { tags: [], skipTags: [], startAt: "token" },
      { tags: [], skipTags: ["secret"] },
    ] as StepSelection[]) {
      const plan = planOf(repo, { selection });
      const selected = plan.phases[0]!.steps.filter((s) => s.selection!.selected).map((s) => s.id);
      const r = await run(plan, repo);
      const ran = r.events
        .filter((e) => e.type === "step.started" && e.target === "web-root")
        .map((e) => (e as { step: string }).step)
        .filter((s) => !s.startsWith("handler/"));
      expect(ran).toEqual(selected);
      const skipped = r.summary.targets[0]!.steps.filter(
        (s) => !selected.includes(s.id) && !s.id.startsWith("handler/"),
      );
      for (const s of skipped) expect(s.reason).toMatch(/^not selected: /);
    }
    expect(
      planOf(repo, { selection: { tags: ["other"], skipTags: [] } }).phases[0]!.steps.map((s) => [
        s.id,
        s.selection!.selected,
      ]),
    ).toEqual([
      ["conf", false],
      ["token", false],
      ["other", true],
    ]);
  }, 180_000);
});
