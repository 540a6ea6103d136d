/**
 * Integration tests against a real OpenSSH sshd listening on several 127.0.0.x
 * addresses (runner/test/helpers/sshd.ts).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import fc from "fast-check";
import { utils, type ParsedKey } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlannedTarget } from "../../src/core/plan-model.js";
import type { RunEvent } from "../../src/core/run-events.js";
import { runPlan, type RunOptions } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { fingerprint, parsePinnedKey } from "../../src/transports/host-key.js";
import { checkTargets } from "../../src/transports/check-targets.js";
import { SshTransport, type SshAuth } from "../../src/transports/ssh-transport.js";
import { createTransportFactory, type CredentialValue } from "../../src/transports/transport-factory.js";
import { phase, plan, simplePlan, step } from "../helpers/plan-fixture.js";
import { SSHD_PATH, startSshd, type Sshd } from "../helpers/sshd.js";
import { clientKey, sshTransportFor } from "../helpers/ssh-targets.js";

const ADDRS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
const DEAD = "127.0.0.9";

describe.skipIf(!SSHD_PATH)("SSH transport against a real sshd", () => {
  let sshd: Sshd;
  let key: ParsedKey;

  beforeAll(async () => {
    sshd = await startSshd(ADDRS);
    key = clientKey(sshd);
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  function target(name: string, host: string, fields: Partial<PlannedTarget> = {}): PlannedTarget {
    return {
      name,
      transport: "ssh",
      host,
      port: sshd.port,
      user: sshd.user,
      hostKeys: [sshd.hostKey],
      shell: "sh",
      labels: {},
      vars: {},
      ...fields,
    };
  }

  function options(
    auth: (t: PlannedTarget) => SshAuth = () => ({ privateKey: key }),
    extra: Partial<RunOptions> = {},
  ) {
    const events: RunEvent[] = [];
    const made = new Map<string, SshTransport>();
    const transportFor = (t: PlannedTarget): SshTransport => {
      const jump = t.jump ? transportFor(t.jump) : undefined;
      const existing = made.get(t.name);
      if (existing) return existing;
      const tr = new SshTransport({
        name: t.name,
        host: t.host!,
        port: t.port,
        user: t.user!,
        hostKeys: t.hostKeys,
        auth: auth(t),
        connectTimeoutMs: 5_000,
        killGraceMs: 500,
        ...(jump ? { jump } : {}),
      });
      made.set(t.name, tr);
      return tr;
    };
    const o: RunOptions = {
      transportFor,
      redactor: new Redactor(),
      listeners: [(e) => events.push(e)],
      ...extra,
    };
    return { o, events };
  }

  it("runs a job on several hosts with key auth, one connection per target, outputs between steps", async () => {
    const before = sshd.log().length;
    const targets = ADDRS.slice(0, 3).map((a, i) => target(`h${i}`, a));
    const { o, events } = options();
    const p = simplePlan(targets, [
      step("who", {
        run: 'echo "addr=$(echo $SSH_CONNECTION | cut -d" " -f3)" >>"$OPSC_OUTPUT"; echo hello',
      }),
      step("use", { run: 'echo "seen $A"', env: { A: "${{ steps.who.outputs.addr }}" } }),
      step("s3", { run: "true" }),
      step("s4", { run: "true" }),
      step("s5", { run: "true" }),
    ]);
    const out = await runPlan(p, o);
    expect(out.result).toBe("success");
    const seen = events
      .filter(
        (e): e is Extract<RunEvent, { type: "step.output" }> => e.type === "step.output" && e.step === "use",
      )
      .map((e) => `${e.target}:${e.line}`)
      .sort();
    expect(seen).toEqual(["h0:seen 127.0.0.2", "h1:seen 127.0.0.3", "h2:seen 127.0.0.4"]);
    const accepted =
      sshd
        .log()
        .slice(before)
        .match(/Accepted publickey/g) ?? [];
    expect(accepted.length).toBe(3);
  });

  it("logs in with a passphrase-protected key parsed once", async () => {
    const parsed = utils.parseKey(sshd.encryptedClientKey, sshd.clientKeyPassphrase);
    if (parsed instanceof Error) throw parsed;
    const enc = Array.isArray(parsed) ? parsed[0]! : parsed;
    const { o } = options(() => ({ privateKey: enc }));
    const out = await runPlan(
      simplePlan([target("a", ADDRS[0]!), target("b", ADDRS[1]!)], [step("s", { run: "true" })]),
      o,
    );
    expect(out.counts.changed).toBe(2);
  });

  it.skipIf(process.getuid?.() !== 0)("logs in with a password", async () => {
    const before = sshd.log().length;
    const { o } = options(() => ({ password: sshd.password! }));
    const out = await runPlan(simplePlan([target("a", ADDRS[0]!)], [step("s", { run: "true" })]), o);
    expect(out.result).toBe("success");
    expect(sshd.log().slice(before)).toMatch(/Accepted password for opsc-test/);
  });

  it("refuses a changed host key, naming the fingerprint seen, before any authentication", async () => {
    const before = sshd.log().length;
    const other = execFileSync("sh", [
      "-c",
      'd=$(mktemp -d); ssh-keygen -q -t ed25519 -N "" -f $d/k; cat $d/k.pub; rm -rf $d',
    ])
      .toString()
      .trim();
    const { o } = options(() => ({ privateKey: key, password: sshd.password ?? "x" }));
    const out = await runPlan(
      simplePlan(
        [target("bad", ADDRS[0]!, { hostKeys: [other] }), target("good", ADDRS[1]!)],
        [step("s", { run: "true" })],
      ),
      o,
    );
    const bad = out.targets.find((t) => t.name === "bad")!;
    expect(bad.outcome).toBe("unreachable");
    const seenFp = fingerprint(parsePinnedKey(sshd.hostKey)!.blob);
    expect(bad.reason).toContain(
      `host key refused: ${ADDRS[0]}:${sshd.port} presented ssh-ed25519 ${seenFp}`,
    );
    expect(bad.reason).toContain(fingerprint(parsePinnedKey(other)!.blob));
    expect(out.targets.find((t) => t.name === "good")!.outcome).toBe("changed");
    // The bad connection never reached userauth: sshd logged no key, password or user for it.
    const log = sshd.log().slice(before);
    const port = new RegExp(
      `Connection from 127\\.0\\.0\\.1 port (\\d+) on ${ADDRS[0]!.replace(/\./g, "\\.")} `,
    ).exec(log)?.[1];
    expect(port).toBeDefined();
    const badLines = log.split("\n").filter((l) => l.includes(`port ${port}`));
    expect(badLines.length).toBeGreaterThan(0);
    expect(badLines.join("\n")).not.toMatch(/publickey|password|Postponed|Accepted|Failed|Invalid user/);
    expect(log.match(/Accepted publickey/g)?.length).toBe(1);
  });

  it("refuses a target with no pinned key", async () => {
    const { o } = options();
    const out = await runPlan(
      simplePlan([target("nokey", ADDRS[0]!, { hostKeys: [] })], [step("s", { run: "true" })]),
      o,
    );
    expect(out.targets[0]).toMatchObject({
      outcome: "unreachable",
      reason: expect.stringMatching(/no valid host_key is pinned/),
    });
  });

  it("gives up a connection whose signal was aborted before it got going, logging in nowhere", async () => {
    const logins = () => sshd.log().match(/Accepted publickey/g)?.length ?? 0;
    const before = logins();
    const transport = (name: string) =>
      new SshTransport({
        name,
        host: ADDRS[0]!,
        port: sshd.port,
        user: sshd.user,
        hostKeys: [sshd.hostKey],
        auth: { privateKey: key },
      });
    const cancel = new AbortController();
    const early = transport("early");
    const connecting = early.connect(cancel.signal);
    cancel.abort(); // while the socket opens: the handshake starts after the abort event has fired
    await expect(connecting).rejects.toMatchObject({ code: "ssh.cancelled" });
    await expect(transport("late").connect(AbortSignal.abort())).rejects.toMatchObject({
      code: "ssh.cancelled",
    });
    await early.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(logins()).toBe(before);
  });

  it("fails an unreachable host alone while the others finish", async () => {
    const { o } = options();
    const targets = [target("up1", ADDRS[0]!), target("down", DEAD), target("up2", ADDRS[1]!)];
    const out = await runPlan(simplePlan(targets, [step("s", { run: "echo ok" })]), o);
    expect(out.targets.map((t) => [t.name, t.outcome])).toEqual([
      ["up1", "changed"],
      ["down", "unreachable"],
      ["up2", "changed"],
    ]);
    expect(out.targets[1]!.reason).toMatch(/cannot reach 127\.0\.0\.9:\d+: ECONNREFUSED/);
    expect(out.result).toBe("failure");
  });

  it("kills the remote process at the step timeout", async () => {
    const pidFile = `/tmp/opsc-ssh-timeout-${process.pid}`;
    rmSync(pidFile, { force: true });
    const { o } = options();
    const out = await runPlan(
      simplePlan(
        [target("a", ADDRS[0]!)],
        [step("slow", { run: `sleep 300 & echo $! >${pidFile}; wait`, timeoutMs: 500 })],
      ),
      o,
    );
    expect(out.targets[0]!.outcome).toBe("timed_out");
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pid).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(pid)).toBe(false);
    rmSync(pidFile, { force: true });
  });

  it("retries, skips by check, and runs batches with max_failures", async () => {
    const counter = `/tmp/opsc-ssh-retry-${process.pid}`;
    rmSync(counter, { force: true });
    const names = ["b1", "b2", "b3", "b4"];
    const targets = names.map((n, i) => target(n, ADDRS[i]!));
    const { o } = options();
    const p = plan(targets, [
      phase(
        "main",
        names,
        [
          step("flaky", {
            run: `[ "$T" = b1 ] || exit 0; n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n >${counter}; [ $n -ge 2 ]`,
            env: { T: "${{ target.name }}" },
            retry: { attempts: 3, delayMs: 10 },
          }),
          step("checked", { check: "true", run: "exit 1" }),
          step("fail-b2", { run: '[ "$T" != b2 ]', env: { T: "${{ target.name }}" } }),
        ],
        { batches: [["b1"], ["b2"], ["b3"], ["b4"]], parallel: 1, maxFailures: 0 },
      ),
    ]);
    const out = await runPlan(p, o);
    expect(out.targets.map((t) => t.outcome)).toEqual(["changed", "failed", "cancelled", "cancelled"]);
    expect(out.targets[0]!.steps.map((s) => [s.id, s.outcome, s.attempts])).toEqual([
      ["flaky", "changed", 2],
      ["checked", "ok", 1],
      ["fail-b2", "changed", 1],
    ]);
    rmSync(counter, { force: true });
  });

  it.skipIf(process.getuid?.() !== 0)("runs a step with sudo, the password on stdin", async () => {
    const redactor = new Redactor();
    redactor.add(sshd.password!);
    const t = target("a", ADDRS[0]!, { sudo: { enabled: true, password: "test/sudo.password" } });
    const { o, events } = options(undefined, { redactor, sudoPassword: () => sshd.password });
    const out = await runPlan(
      simplePlan(
        [t],
        [step("root", { sudo: true, run: 'echo "uid=$(id -u)" >>"$OPSC_OUTPUT"; echo "as $(id -un)"' })],
      ),
      o,
    );
    expect(out.result).toBe("success");
    expect(events.find((e) => e.type === "step.finished")).toMatchObject({ outputs: { uid: "0" } });
    const { o: o2, events: ev2 } = options(undefined, { redactor, sudoPassword: () => "wrong password" });
    const bad = await runPlan(simplePlan([t], [step("root", { sudo: true, run: "id -u" })]), o2);
    expect(bad.targets[0]!.outcome).toBe("failed");
    expect(JSON.stringify(ev2)).toMatch(/incorrect password|Sorry, try again/);
  });

  it("reaches a host through a jump host", async () => {
    const before = sshd.log().length;
    const jump = target("bastion", ADDRS[0]!);
    const inner = target("inner", ADDRS[2]!, { jump });
    const { o, events } = options();
    const out = await runPlan(simplePlan([inner], [step("s", { run: 'echo "$SSH_CONNECTION"' })]), o);
    expect(out.result).toBe("success");
    const line = events.find((e) => e.type === "step.output") as { line: string };
    expect(line.line.split(" ")[2]).toBe(ADDRS[2]);
    // Two logins (bastion, inner), one session: the bastion only forwarded, and
    // its connection closed with the last target behind it. Lines are matched by
    // client port, because an earlier test's connections may still log their end.
    const ours = (log: string, re: RegExp, ports: string[]) =>
      [...log.matchAll(re)].filter((m) => ports.includes(m[1]!)).length;
    const portsOf = (log: string) =>
      [...log.matchAll(/Accepted publickey for \S+ from \S+ port (\d+)/g)].map((m) => m[1]!);
    await waitUntil(() => {
      const log = sshd.log().slice(before);
      return ours(log, /Disconnected from user \S+ \S+ port (\d+)/g, portsOf(log)) === 2;
    });
    const log = sshd.log().slice(before);
    const ports = portsOf(log);
    expect(ports).toHaveLength(2);
    expect(ours(log, /Starting session: .* port (\d+)/g, ports)).toBe(1);
    expect(ours(log, /Disconnected from user \S+ \S+ port (\d+)/g, ports)).toBe(2);
    expect(log).toMatch(
      new RegExp(`Connection from 127\\.0\\.0\\.1 port \\d+ on ${ADDRS[0]!.replace(/\./g, "\\.")} `),
    );
  });

  it("connects many targets behind one jump host with a single handshake slot", async () => {
    const factory = createTransportFactory({
      credentials: { get: () => ({ private_key: sshd.clientKey }) },
      handshakes: 1,
    });
    const bastion = target("bastion", ADDRS[0]!, { credential: "k" });
    const inner = ADDRS.slice(1).map((a, i) => target(`in${i}`, a, { credential: "k", jump: bastion }));
    const out = await runPlan(simplePlan(inner, [step("s", { run: "true" })]), {
      transportFor: factory.transportFor,
      redactor: new Redactor(),
    });
    expect(out.counts.changed).toBe(3);
  });

  it("carries 10 MB of output over SSH with nothing lost", async () => {
    let count = 0;
    let bytes = 0;
    const { o } = options(undefined, {
      listeners: [
        (e) => {
          if (e.type === "step.output" && e.stream === "stdout") {
            count++;
            bytes += e.line.length + 1;
          }
        },
      ],
    });
    const p = simplePlan(
      [target("a", ADDRS[0]!)],
      [
        step("big", {
          run: "yes 0123456789012345678901234567890123456789012345678901234567890AB | head -n 163840",
        }),
      ],
    );
    const out = await runPlan(p, o);
    expect(out.result).toBe("success");
    expect(count).toBe(163_840);
    expect(bytes).toBe(10 * 1024 * 1024);
  });

  it("resolves credentials once per reference and parses the key once", async () => {
    const gets: string[] = [];
    const store = {
      get: (ref: string): CredentialValue => {
        gets.push(ref);
        return { private_key: sshd.encryptedClientKey, passphrase: sshd.clientKeyPassphrase };
      },
    };
    const redactor = new Redactor();
    const factory = createTransportFactory({ credentials: store, redactor });
    const targets = [
      target("c1", ADDRS[0]!, { credential: "test/ssh" }),
      target("c2", ADDRS[1]!, { credential: "test/ssh" }),
    ];
    const out = await runPlan(simplePlan(targets, [step("s", { run: "true" })]), {
      transportFor: factory.transportFor,
      redactor,
    });
    expect(out.result).toBe("success");
    expect(gets).toEqual(["test/ssh"]);
    expect(redactor.redact(`x ${sshd.clientKeyPassphrase} y`)).toBe("x *** y");
  });

  it("reports a wrong key passphrase as the target's reason", async () => {
    const factory = createTransportFactory({
      credentials: { get: () => ({ private_key: sshd.encryptedClientKey, passphrase: "wrong" }) },
    });
    const out = await runPlan(
      simplePlan([target("c", ADDRS[0]!, { credential: "test/ssh" })], [step("s", { run: "true" })]),
      {
        transportFor: factory.transportFor,
        redactor: new Redactor(),
      },
    );
    expect(out.targets[0]).toMatchObject({
      outcome: "unreachable",
      reason: expect.stringMatching(
        /credential test\/ssh \(target c\): cannot read the private key.*check the passphrase/,
      ),
    });
  });

  it("checks targets: latency for good ones, the reason for the others", async () => {
    const other = execFileSync("sh", [
      "-c",
      'd=$(mktemp -d); ssh-keygen -q -t ed25519 -N "" -f $d/k; cat $d/k.pub; rm -rf $d',
    ])
      .toString()
      .trim();
    const factory = createTransportFactory({ credentials: { get: () => ({ private_key: sshd.clientKey }) } });
    const results = await checkTargets(
      [
        target("good", ADDRS[0]!, { credential: "k" }),
        target("changed", ADDRS[1]!, { credential: "k", hostKeys: [other] }),
        target("down", DEAD, { credential: "k" }),
      ],
      factory.transportFor,
      { timeoutMs: 5_000 },
    );
    expect(results[0]).toMatchObject({ target: "good", ok: true });
    expect(results[0]!.connectMs).toBeGreaterThanOrEqual(0);
    expect(results[0]!.execMs).toBeGreaterThanOrEqual(0);
    expect(results[1]).toMatchObject({
      ok: false,
      code: "ssh.host-key-mismatch",
      message: expect.stringContaining("SHA256:"),
    });
    expect(results[2]).toMatchObject({ ok: false, code: "ssh.unreachable" });
  });

  it("delivers any input byte for byte (quotes, $(...), backticks, newlines, unicode)", async () => {
    const tricky = fc.constantFrom(
      "'",
      '"',
      "$(id)",
      "`id`",
      "\n",
      "\r\n",
      "\\",
      "${HOME}",
      "'\\''",
      "%s",
      "é",
      "日本",
      "🙂",
      " ",
      "\t",
      "-n",
      "EOF",
    );
    const value = fc
      .array(fc.oneof(tricky, fc.string({ unit: "grapheme", maxLength: 6 })), { maxLength: 8 })
      .map((parts) => parts.join("").replace(/\0/g, ""));
    const shells = ["sh", "bash"] as const;
    {
      await fc.assert(
        fc.asyncProperty(
          fc.array(value, { minLength: 1, maxLength: 4 }),
          fc.constantFrom(...shells),
          async (values, shell) => {
            const env = Object.fromEntries(values.map((v, i) => [`INPUT_V${i}`, v]));
            const run = values
              .map((_, i) => `printf '%s' "$INPUT_V${i}" | od -An -tx1 | tr -d ' \\n'; echo`)
              .join("\n");
            const out = await runPlan(
              simplePlan([target("prop", ADDRS[0]!, { shell })], [step("echo", { run, env })]),
              {
                transportFor: sshTransportFor(key),
                redactor: new Redactor(),
                listeners: [(e) => e.type === "step.output" && e.stream === "stdout" && lines.push(e.line)],
              },
            );
            expect(out.result).toBe("success");
            const expected = values.map((v) => Buffer.from(v, "utf8").toString("hex"));
            const got = lines.splice(0);
            expect(got).toEqual(expected);
          },
        ),
        { numRuns: 40 },
      );
    }
  });
});

const lines: string[] = [];

async function waitUntil(check: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
