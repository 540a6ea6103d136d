/**
 * The invalid-fixture suite: every schema constraint and every check, each
 * asserting the file, line, column and code of the diagnostic it produces.
 */
import { describe, expect, it } from "vitest";
import { HOST_KEY, brief, load } from "./helpers.js";

interface Case {
  name: string;
  files: Record<string, string | null>;
  /** `file:line:col code` */
  expect: string;
  /** A word the message must contain. */
  message?: RegExp;
  hint?: RegExp;
  severity?: "error" | "warning";
}

const job = (body: string) => ({ "jobs/j.yaml": body });
const target = (body: string) => ({ "targets/hosts.yaml": `targets:\n${body}` });

const cases: Case[] = [
  // --- repository layout and ids
  {
    name: "missing opsconductor.yaml",
    files: { "opsconductor.yaml": null },
    expect: "opsconductor.yaml:1:1 repo.no-settings",
  },
  {
    name: "file in an unknown place",
    files: { "jobs/notes.txt": "hi" },
    expect: "jobs/notes.txt:1:1 layout.unknown-file",
    severity: "warning",
  },
  {
    name: ".yml extension",
    files: { "jobs/x.yml": "steps: []" },
    expect: "jobs/x.yml:1:1 layout.unknown-file",
    message: /not in a place/,
    severity: "warning",
  },
  {
    name: "stray top-level YAML",
    files: { "deploy.yaml": "a: 1" },
    expect: "deploy.yaml:1:1 layout.unknown-file",
    severity: "warning",
  },
  {
    name: "job id from an invalid file name",
    files: { "jobs/Deploy.yaml": "steps: [{ run: x }]\ntargets: { names: [local] }\n" },
    expect: "jobs/Deploy.yaml:1:1 id.invalid",
  },

  // --- settings schema
  {
    name: "settings: unknown property",
    files: { "opsconductor.yaml": "name: t\nrecord: {}\n" },
    expect: "opsconductor.yaml:2:1 schema.unknown-property",
    message: /record/,
  },
  {
    name: "settings: enum",
    files: { "opsconductor.yaml": "defaults:\n  shell: zsh\n" },
    expect: "opsconductor.yaml:2:10 schema.enum",
  },
  {
    name: "settings: duration pattern",
    files: { "opsconductor.yaml": "defaults:\n  timeout: 5 minutes\n" },
    expect: "opsconductor.yaml:2:12 schema.pattern",
  },
  {
    name: "settings: minimum",
    files: { "opsconductor.yaml": "defaults:\n  parallel: 0\n" },
    expect: "opsconductor.yaml:2:13 schema.minimum",
  },
  {
    name: "settings: branch pattern",
    files: { "opsconductor.yaml": "records:\n  branch: ../x\n" },
    expect: "opsconductor.yaml:2:11 schema.pattern",
  },
  {
    name: "settings: type",
    files: { "opsconductor.yaml": "records:\n  push: yes please\n" },
    expect: "opsconductor.yaml:2:9 schema.type",
  },
  {
    name: "settings: minLength",
    files: { "opsconductor.yaml": 'name: ""\n' },
    expect: "opsconductor.yaml:1:7 schema.min-length",
  },

  // --- targets schema
  {
    name: "targets: required",
    files: { "targets/hosts.yaml": "defaults: { user: x }\n" },
    expect: "targets/hosts.yaml:1:1 schema.required",
    message: /targets/,
  },
  {
    name: "targets: invalid id",
    files: target("  Web_1: { transport: local }\n"),
    expect: "targets/hosts.yaml:2:3 schema.property-name",
    message: /Web_1/,
  },
  {
    name: "targets: port type",
    files: target('  a: { host: h, host_key: "' + HOST_KEY + '", port: "22" }\n'),
    expect: "targets/hosts.yaml:2:117 schema.type",
  },
  {
    name: "targets: port maximum",
    files: target("  a:\n    host: h\n    port: 70000\n"),
    expect: "targets/hosts.yaml:4:11 schema.maximum",
  },
  {
    name: "targets: transport enum",
    files: target("  a: { transport: winrm }\n"),
    expect: "targets/hosts.yaml:2:19 schema.enum",
  },
  {
    name: "targets: host_key pattern",
    files: target("  a: { host: h, host_key: not-a-key }\n"),
    expect: "targets/hosts.yaml:2:27 schema.pattern",
  },
  {
    name: "targets: host_key list minItems",
    files: target("  a: { host: h, host_key: [] }\n"),
    expect: "targets/hosts.yaml:2:27 schema.min-items",
  },
  {
    name: "targets: sudo type",
    files: target("  a: { transport: local, sudo: maybe }\n"),
    expect: "targets/hosts.yaml:2:32 schema.type",
    message: /boolean or a mapping/,
  },
  {
    name: "targets: sudo user pattern",
    files: target("  a: { transport: local, sudo: { user: Root } }\n"),
    expect: "targets/hosts.yaml:2:40 schema.pattern",
  },
  {
    name: "targets: label value type",
    files: target("  a: { transport: local, labels: { role: [a] } }\n"),
    expect: "targets/hosts.yaml:2:42 schema.type",
  },
  {
    name: "targets: unknown property",
    files: target("  a: { transport: local, hostname: x }\n"),
    expect: "targets/hosts.yaml:2:26 schema.unknown-property",
    message: /hostname/,
  },
  {
    name: "targets: credential reference syntax",
    files: target("  a: { transport: local, credential: prod }\n"),
    expect: "targets/hosts.yaml:2:38 schema.pattern",
  },
  {
    name: "targets: jump id pattern",
    files: target("  a: { host: h, jump: ../b }\n"),
    expect: "targets/hosts.yaml:2:23 schema.pattern",
  },
  {
    name: "targets: user with space",
    files: target("  a: { host: h, user: a b }\n"),
    expect: "targets/hosts.yaml:2:23 schema.pattern",
  },

  // --- step schema
  {
    name: "step: run and steps",
    files: { "steps/s.yaml": "run: x\nsteps: [{ run: y }]\n" },
    expect: "steps/s.yaml:1:1 schema.shape",
    message: /not both/,
  },
  {
    name: "step: neither run nor steps",
    files: { "steps/s.yaml": "description: nothing\n" },
    expect: "steps/s.yaml:1:1 schema.shape",
    message: /needs/,
  },
  {
    name: "step: check with steps",
    files: { "steps/s.yaml": "check: x\nsteps: [{ run: y }]\n" },
    expect: "steps/s.yaml:1:1 schema.shape",
    message: /check/,
  },
  {
    name: "step: empty run",
    files: { "steps/s.yaml": 'run: ""\n' },
    expect: "steps/s.yaml:1:6 schema.min-length",
  },
  {
    name: "step: input name",
    files: { "steps/s.yaml": "inputs:\n  my-input: { type: string }\nrun: x\n" },
    expect: "steps/s.yaml:2:3 schema.property-name",
  },
  {
    name: "step: input must be a schema object",
    files: { "steps/s.yaml": "inputs:\n  x: string\nrun: x\n" },
    expect: "steps/s.yaml:2:6 schema.type",
  },
  {
    name: "step: env name",
    files: { "steps/s.yaml": "env: { 1BAD: x }\nrun: x\n" },
    expect: "steps/s.yaml:1:8 schema.property-name",
  },
  {
    name: "step: timeout",
    files: { "steps/s.yaml": "run: x\ntimeout: 5\n" },
    expect: "steps/s.yaml:2:10 schema.type",
  },
  {
    name: "step: composite empty",
    files: { "steps/s.yaml": "steps: []\n" },
    expect: "steps/s.yaml:1:8 schema.min-items",
  },

  // --- job schema
  {
    name: "job: steps and phases",
    files: job("steps: [{ run: x }]\nphases: [{ name: a, steps: [{ run: y }] }]\n"),
    expect: "jobs/j.yaml:1:1 schema.shape",
    message: /not both/,
  },
  {
    name: "job: no steps",
    files: job("description: x\n"),
    expect: "jobs/j.yaml:1:1 schema.shape",
    message: /needs/,
  },
  {
    name: "job step: uses and run",
    files: job("steps:\n  - uses: pkg\n    run: x\n"),
    expect: "jobs/j.yaml:2:5 schema.shape",
    message: /not both/,
  },
  {
    name: "job step: neither uses nor run",
    files: job("steps:\n  - id: a\n"),
    expect: "jobs/j.yaml:2:5 schema.shape",
    message: /needs/,
  },
  {
    name: "job step: with on a run step",
    files: job("steps:\n  - run: x\n    with: { a: 1 }\n"),
    expect: "jobs/j.yaml:2:5 schema.shape",
    message: /env/,
  },
  {
    name: "job step: check on a uses step",
    files: job("steps:\n  - uses: pkg\n    check: x\n    with: { packages: [a] }\n"),
    expect: "jobs/j.yaml:2:5 schema.shape",
    message: /check/,
  },
  {
    name: "job step: id pattern (no dots)",
    files: job("steps:\n  - id: a.b\n    run: x\n"),
    expect: "jobs/j.yaml:2:9 schema.pattern",
  },
  {
    name: "job step: uses cannot leave the repository",
    files: job("steps:\n  - uses: ../../etc/passwd\n"),
    expect: "jobs/j.yaml:2:11 schema.pattern",
  },
  {
    name: "job step: retry required attempts",
    files: job("steps:\n  - run: x\n    retry: { delay: 5s }\n"),
    expect: "jobs/j.yaml:3:12 schema.required",
  },
  {
    name: "job step: retry attempts minimum",
    files: job("steps:\n  - run: x\n    retry: { attempts: 0 }\n"),
    expect: "jobs/j.yaml:3:24 schema.minimum",
  },
  {
    name: "job step: unknown property",
    files: job("steps:\n  - run: x\n    continue-on-error: true\n"),
    expect: "jobs/j.yaml:3:5 schema.unknown-property",
    hint: /did you mean `continue_on_error`/,
  },
  {
    name: "job: on unknown trigger",
    files: job("on: { cron: x }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:7 schema.unknown-property",
  },
  {
    name: "job: schedule requires cron",
    files: job("on:\n  schedule: [{ timezone: UTC }]\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:2:14 schema.required",
  },
  {
    name: "job: catch_up enum",
    files: job('on:\n  schedule: [{ cron: "* * * * *", catch_up: some }]\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:2:45 schema.enum",
  },
  {
    name: "job: strategy batch pattern",
    files: job("strategy: { batch: 150% }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:20 schema.pattern",
  },
  {
    name: "job: max_failures minimum",
    files: job("strategy: { max_failures: -1 }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:27 schema.minimum",
  },
  {
    name: "job: concurrency policy enum",
    files: job("concurrency: { group: g, policy: wait }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:34 schema.enum",
  },
  {
    name: "job: concurrency group required",
    files: job("concurrency: { policy: skip }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:14 schema.required",
  },
  {
    name: "job: secrets name pattern",
    files: job("secrets: { db-pass: prod/db.password }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:12 schema.property-name",
  },
  {
    name: "job: notify needs a channel",
    files: job("notify: [{ on: [failure] }]\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:10 schema.required",
  },
  {
    name: "job: notify event enum",
    files: job("notify: [{ on: [failed], github_status: true }]\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:17 schema.enum",
    message: /failure/,
  },
  {
    name: "job: notify events unique",
    files: job("notify: [{ on: [failure, failure], github_status: true }]\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:16 schema.unique-items",
  },
  {
    name: "job: email format",
    files: job("notify: [{ on: [failure], email: { to: [not-an-address] } }]\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:41 schema.format",
  },
  {
    name: "job: webhook url pattern",
    files: job("notify: [{ on: [failure], webhook: { url: ftp://x } }]\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:43 schema.pattern",
  },
  {
    name: "job: phase requires name",
    files: job("phases: [{ steps: [{ run: x }] }]\n"),
    expect: "jobs/j.yaml:1:10 schema.required",
  },
  {
    name: "job: selector names type",
    files: job("targets: { names: web-1 }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:19 schema.type",
  },
  {
    name: "job: push must be boolean or mapping",
    files: job("on: { push: main }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:13 schema.type",
  },
  {
    name: "job: push branches type",
    files: job("on: { push: { branches: main } }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:25 schema.type",
  },

  // --- references
  {
    name: "unknown uses",
    files: job("steps:\n  - uses: apt/instal\n"),
    expect: "jobs/j.yaml:2:11 ref.unknown-step",
  },
  {
    name: "unknown credential for the SMTP password",
    files: {
      "opsconductor.yaml":
        "name: t\nnotify:\n  smtp: { host: mail.example, from: ops@example.com, password: mail/smtp.password }\n",
    },
    expect: "opsconductor.yaml:3:64 ref.unknown-credential-file",
    message: /mail/,
  },
  {
    name: "unknown credential file",
    files: target(`  a: { host: h, host_key: "${HOST_KEY}", credential: staging/ssh }\n`),
    expect: "targets/hosts.yaml:2:123 ref.unknown-credential-file",
    message: /staging/,
  },
  {
    name: "unknown credential key",
    files: job("secrets: { PW: prod/db.pasword }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:16 ref.unknown-credential-key",
    message: /db\.pasword/,
  },
  {
    name: "unknown credential in defaults",
    files: {
      "targets/hosts.yaml": `defaults: { credential: prod/sh }\ntargets:\n  a: { host: h, host_key: "${HOST_KEY}" }\n`,
    },
    expect: "targets/hosts.yaml:1:25 ref.unknown-credential-key",
  },
  {
    name: "unknown webhook secret",
    files: job("on: { webhook: { secret: prod/hooks.x } }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:26 ref.unknown-credential-key",
  },
  {
    name: "unknown sudo password credential",
    files: target("  a: { transport: local, sudo: { password: prod/sudo.password } }\n"),
    expect: "targets/hosts.yaml:2:44 ref.unknown-credential-key",
  },
  {
    name: "unknown jump target",
    files: target(`  a: { host: h, host_key: "${HOST_KEY}", jump: bastoin }\n`),
    expect: "targets/hosts.yaml:2:117 ref.unknown-target",
  },
  {
    name: "target defined twice",
    files: { "targets/more.yaml": "targets:\n  web-1: { transport: local }\n" },
    expect: "targets/more.yaml:2:3 target.duplicate-id",
    message: /hosts\.yaml:2/,
  },
  {
    name: "target without host",
    files: target("  a: { user: x }\n"),
    expect: "targets/hosts.yaml:2:3 target.missing-host",
  },
  {
    name: "target without host key",
    files: target("  a: { host: h }\n"),
    expect: "targets/hosts.yaml:2:3 target.no-host-key",
    severity: "warning",
  },
  {
    name: "duplicate step id",
    files: job("steps:\n  - { id: a, run: x }\n  - { id: a, run: y }\n"),
    expect: "jobs/j.yaml:3:11 step.duplicate-id",
  },
  {
    name: "duplicate phase",
    files: job("phases:\n  - { name: a, steps: [{ run: x }] }\n  - { name: a, steps: [{ run: y }] }\n"),
    expect: "jobs/j.yaml:3:13 job.duplicate-phase",
  },
  {
    name: "plaintext credentials file",
    files: { "credentials/plain.sops.yaml": "password: hunter2\n" },
    expect: "credentials/plain.sops.yaml:1:1 credential.not-encrypted",
  },

  // --- cycles
  {
    name: "composite cycle",
    files: { "steps/a.yaml": "steps: [{ uses: b }]\n", "steps/b.yaml": "steps:\n  - uses: a\n" },
    expect: "steps/b.yaml:2:11 step.composite-cycle",
    message: /a -> b -> a|b -> a -> b/,
  },
  {
    name: "composite uses itself",
    files: { "steps/a.yaml": "steps:\n  - run: x\n  - uses: a\n" },
    expect: "steps/a.yaml:3:11 step.composite-cycle",
  },
  {
    name: "jump cycle",
    files: target(
      `  a: { host: h, host_key: "${HOST_KEY}", jump: b }\n  b: { host: h, host_key: "${HOST_KEY}", jump: a }\n`,
    ),
    expect: "targets/hosts.yaml:2:117 target.jump-cycle",
    message: /a -> b -> a/,
  },

  // --- expressions
  {
    name: "${{ in run",
    files: job("steps:\n  - run: echo ${{ inputs.name }}\n"),
    expect: "jobs/j.yaml:2:15 expr.in-script",
    message: /run/,
  },
  {
    name: "${{ in a block run",
    files: job("steps:\n  - run: |\n      set -e\n      echo ${{ inputs.name }}\n"),
    expect: "jobs/j.yaml:4:12 expr.in-script",
  },
  {
    name: "${{ in check",
    files: { "steps/s.yaml": 'check: test -f "${{ inputs.f }}"\nrun: x\n' },
    expect: "steps/s.yaml:1:17 expr.in-script",
    message: /check/,
  },
  {
    name: "expression syntax",
    files: job('steps:\n  - run: x\n    env: { A: "${{ inputs.name == }}" }\n'),
    expect: "jobs/j.yaml:3:16 expr.syntax",
  },
  {
    name: "unknown context",
    files: job('steps:\n  - run: x\n    env: { A: "v=${{ secret.x }}" }\n'),
    expect: "jobs/j.yaml:3:18 expr.unknown-context",
  },
  {
    name: "secrets context",
    files: job("steps:\n  - run: x\n    if: secrets.x == 'y'\n"),
    expect: "jobs/j.yaml:3:9 expr.unknown-context",
    message: /secrets/,
  },
  {
    name: "unknown input",
    files: job(
      'inputs: { name: { type: string, default: x } }\nsteps:\n  - uses: pkg\n    with: { packages: ["${{ inputs.nme }}"] }\n',
    ),
    expect: "jobs/j.yaml:4:25 expr.unknown-input",
    message: /nme/,
  },
  {
    name: "unknown input in a composite",
    files: {
      "steps/s.yaml":
        'inputs: { v: { type: string } }\nsteps:\n  - run: x\n    env: { V: "${{ inputs.version }}" }\n',
    },
    expect: "steps/s.yaml:4:16 expr.unknown-input",
  },
  {
    name: "step read before it runs",
    files: job("steps:\n  - id: a\n    run: x\n    if: steps.b.changed\n  - { id: b, run: y }\n"),
    expect: "jobs/j.yaml:4:9 expr.unknown-step",
  },
  {
    name: "unclosed expression",
    files: job('steps:\n  - run: x\n    env: { A: "${{ inputs.name" }\n'),
    expect: "jobs/j.yaml:3:16 expr.syntax",
    message: /never closed/,
  },

  // --- inputs
  {
    name: "input schema invalid",
    files: job("inputs: { n: { type: strng } }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:14 input.schema-invalid",
  },
  {
    // Was an internal error: ajv knows no other draft.
    name: "input schema of another JSON Schema draft",
    files: job(
      'inputs: { n: { $schema: "http://json-schema.org/draft-07/schema#", type: string } }\nsteps: [{ run: x }]\n',
    ),
    expect: "jobs/j.yaml:1:14 input.schema-invalid",
    message: /draft-07.*not supported.*draft 2020-12/,
  },
  {
    name: "job input default breaks its schema",
    files: job('inputs:\n  n: { type: integer, default: "3" }\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:2:32 input.default-invalid",
  },
  {
    name: "step input default breaks its schema",
    files: { "steps/s.yaml": "inputs:\n  level: { type: string, enum: [a, b], default: c }\nrun: x\n" },
    expect: "steps/s.yaml:2:49 input.default-invalid",
  },
  {
    name: "with: literal breaks the input schema",
    files: job("steps:\n  - uses: pkg\n    with: { packages: [], update: yes }\n"),
    expect: "jobs/j.yaml:3:23 input.invalid-value",
  },
  {
    name: "with: literal item type",
    files: job("steps:\n  - uses: pkg\n    with:\n      packages: [nginx, 7]\n"),
    expect: "jobs/j.yaml:4:25 input.invalid-value",
  },
  {
    name: "with: unknown input",
    files: job("steps:\n  - uses: pkg\n    with: { packages: [a], updte: true }\n"),
    expect: "jobs/j.yaml:3:28 input.unknown",
    message: /updte/,
  },
  {
    name: "with: missing required input",
    files: job("steps:\n  - uses: pkg\n"),
    expect: "jobs/j.yaml:2:11 input.missing",
    message: /packages/,
  },

  // --- schedules
  {
    name: "cron out of range",
    files: job('on:\n  schedule: [{ cron: "61 * * * *" }]\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:2:22 cron.invalid",
  },
  {
    name: "cron field count",
    files: job('on:\n  schedule:\n    - cron: "* * *"\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:3:13 cron.invalid",
    message: /5 fields/,
  },
  {
    name: "cron macro",
    files: job('on:\n  schedule: [{ cron: "@sometimes" }]\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:2:22 cron.invalid",
  },
  {
    name: "unknown time zone",
    files: job('on:\n  schedule: [{ cron: "0 3 * * 1", timezone: Europe/Berln }]\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:2:45 cron.timezone",
    message: /Berln/,
  },
  {
    name: "drift.schedule: invalid cron",
    files: job('drift: { schedule: "0 25 * * *" }\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:1:20 cron.invalid",
  },
  {
    name: "drift.timezone: unknown time zone",
    files: job('drift: { schedule: "@daily", timezone: Europe/Berln }\nsteps: [{ run: x }]\n'),
    expect: "jobs/j.yaml:1:40 cron.timezone",
    message: /Berln/,
  },

  // --- selectors
  {
    name: "selector matches nothing",
    files: job("targets: { match: { role: wbe } }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:10 selector.no-match",
    severity: "warning",
  },
  {
    name: "named target that does not exist",
    files: job("targets: { names: [web-1, web-9] }\nsteps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:1:27 selector.no-match",
    severity: "warning",
  },
  {
    name: "phase selector matches nothing",
    files: job("phases:\n  - name: a\n    targets: { names: [nope] }\n    steps: [{ run: x }]\n"),
    expect: "jobs/j.yaml:3:14 selector.no-match",
    severity: "warning",
  },
];

describe("invalid fixtures", () => {
  it("the base repository validates clean", () => {
    expect(load().diagnostics.map(brief)).toEqual([]);
  });

  it.each(cases)("$name", (c) => {
    const { diagnostics } = load(c.files);
    const found = diagnostics.find((d) => brief(d) === c.expect);
    expect(
      found,
      `expected ${c.expect}, got:\n${diagnostics.map((d) => `${brief(d)}: ${d.message}`).join("\n")}`,
    ).toBeDefined();
    expect(found!.severity).toBe(c.severity ?? "error");
    expect(found!.message.length).toBeGreaterThan(10);
    if (c.message) expect(found!.message).toMatch(c.message);
    if (c.hint) expect(found!.hint).toMatch(c.hint);
  });

  it("every check's code is covered by a case", () => {
    const covered = new Set(cases.map((c) => c.expect.split(" ")[1]));
    for (const code of [
      "repo.no-settings",
      "layout.unknown-file",
      "id.invalid",
      "ref.unknown-step",
      "ref.unknown-credential-file",
      "ref.unknown-credential-key",
      "ref.unknown-target",
      "target.duplicate-id",
      "target.missing-host",
      "target.no-host-key",
      "step.duplicate-id",
      "job.duplicate-phase",
      "credential.not-encrypted",
      "step.composite-cycle",
      "target.jump-cycle",
      "expr.in-script",
      "expr.syntax",
      "expr.unknown-context",
      "expr.unknown-input",
      "expr.unknown-step",
      "input.schema-invalid",
      "input.default-invalid",
      "input.invalid-value",
      "input.unknown",
      "input.missing",
      "cron.invalid",
      "cron.timezone",
      "selector.no-match",
    ]) {
      expect(covered, code).toContain(code);
    }
  });

  it("reports every problem at once, sorted by file and line", () => {
    const { diagnostics } = load({
      "jobs/a.yaml": "steps:\n  - uses: nope\n",
      "jobs/b.yaml": 'on:\n  schedule: [{ cron: "x" }]\nsteps:\n  - run: echo ${{ inputs.x }}\n',
      "targets/more.yaml": "targets:\n  web-1: { transport: local }\n",
    });
    expect(diagnostics.map(brief)).toEqual([
      "jobs/a.yaml:2:11 ref.unknown-step",
      "jobs/b.yaml:2:22 cron.invalid",
      "jobs/b.yaml:4:15 expr.in-script",
      "targets/more.yaml:2:3 target.duplicate-id",
    ]);
  });

  it("hints say what to do", () => {
    const { diagnostics } = load({ "jobs/j.yaml": "steps:\n  - run: echo ${{ inputs.name }}\n" });
    expect(diagnostics[0]!.hint).toMatch(/env/);
    const typo = load({ "jobs/j.yaml": "steps:\n  - uses: pkh\n    with: { packages: [a] }\n" }).diagnostics;
    expect(typo[0]!.hint).toBe('did you mean "pkg"?');
  });
});

describe("checks beyond the schema still run on schema-invalid files", () => {
  it("a job with an unknown property still gets its other problems reported", () => {
    const { diagnostics, model } = load({
      "jobs/j.yaml": `descripton: typo
on:
  schedule: [{ cron: "99 * * * *" }]
secrets: { PW: prod/db.pasword }
steps:
  - uses: nope
  - run: echo \${{ inputs.x }}
  - { run: x, bogus: 1 }
  - id: fine
    if: steps.missing.changed
    run: y
`,
    });
    expect(diagnostics.map(brief)).toEqual([
      "jobs/j.yaml:1:1 schema.unknown-property",
      "jobs/j.yaml:3:22 cron.invalid",
      "jobs/j.yaml:4:16 ref.unknown-credential-key",
      "jobs/j.yaml:6:11 ref.unknown-step",
      "jobs/j.yaml:7:15 expr.in-script",
      "jobs/j.yaml:8:15 schema.unknown-property",
      "jobs/j.yaml:10:9 expr.unknown-step",
    ]);
    // The planner never sees a job that broke its schema.
    expect(model.jobs.has("j")).toBe(false);
  });

  it("a broken library step still gets expression checks, and its users are not blamed", () => {
    const { diagnostics } = load({
      "steps/pkg.yaml":
        "inputs:\n  packages: { type: array }\nrun: echo ${{ inputs.packages }}\nsudo: maybe\n",
    });
    expect(diagnostics.map(brief)).toEqual([
      "steps/pkg.yaml:3:11 expr.in-script",
      "steps/pkg.yaml:4:7 schema.type",
    ]);
  });
});
