/** What the planner reads: normalisation, defaults and credential key paths. */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { credentialRefProblem } from "../../src/repo/credential-ref.js";
import { parseDuration } from "../../src/repo/duration.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { readRepoDir } from "../../src/repo/read-dir.js";
import { filesOf, load } from "./helpers.js";

// The shared SOPS vectors live beside the project (../shared relative to its root); skip those cases when absent.
const VECTORS = join(import.meta.dirname, "../../../../shared/vectors/sops");

describe("model", () => {
  it("a job's top-level steps become one phase named main, with strategy defaults", () => {
    const { model } = load({ "opsconductor.yaml": "defaults: { parallel: 7, timeout: 1h30m }\n" });
    const job = model.jobs.get("j")!;
    expect(job.phases).toHaveLength(1);
    expect(job.phases[0]).toMatchObject({
      name: "main",
      targets: { match: { role: "web" } },
      strategy: { parallel: 7, maxFailures: 0 },
    });
    expect(job.phases[0]!.steps[0]).toMatchObject({
      id: "install",
      uses: "pkg",
      with: { packages: ["${{ inputs.name }}"] },
    });
    expect(job.timeoutMs).toBe(5_400_000);
    expect(job.on).toEqual({ schedule: [], manual: true });
  });

  it("phases inherit the job's targets and merge its strategy field by field", () => {
    const { model, diagnostics } = load({
      "jobs/j.yaml": `targets: { match: { role: web } }
strategy: { parallel: 5, max_failures: 1 }
phases:
  - name: one
    steps: [{ run: a }]
  - name: two
    targets: { names: [local] }
    strategy: { batch: 50% }
    steps: [{ run: b, retry: { attempts: 3, delay: 2s }, timeout: 90s }]
`,
    });
    expect(diagnostics).toEqual([]);
    const [one, two] = model.jobs.get("j")!.phases;
    expect(one).toMatchObject({
      targets: { match: { role: "web" } },
      strategy: { parallel: 5, maxFailures: 1 },
    });
    expect(two).toMatchObject({
      targets: { names: ["local"] },
      strategy: { parallel: 5, maxFailures: 1, batch: "50%" },
    });
    expect(two!.steps[0]).toMatchObject({
      id: "step-1",
      retry: { attempts: 3, delayMs: 2000 },
      timeoutMs: 90_000,
      continueOnError: false,
    });
  });

  it("targets get their file's defaults; labels and vars merge key by key; numbers become label text", () => {
    const { model, diagnostics } = load({
      "targets/hosts.yaml": `defaults: { user: deploy, credential: prod/ssh, labels: { env: prod, tier: 1 }, vars: { a: 1, b: 2 }, sudo: true }
targets:
  web-1: { host: h1, host_key: ["ssh-ed25519 AAAA1", "ssh-rsa AAAA2"], labels: { env: staging, role: web }, vars: { b: 3 } }
  local: { transport: local, sudo: { user: admin } }
`,
    });
    expect(diagnostics).toEqual([]);
    expect(model.targets.get("web-1")).toMatchObject({
      transport: "ssh",
      host: "h1",
      port: 22,
      user: "deploy",
      credential: "prod/ssh",
      hostKeys: ["ssh-ed25519 AAAA1", "ssh-rsa AAAA2"],
      shell: "sh",
      sudo: { enabled: true },
      labels: { env: "staging", tier: "1", role: "web" },
      vars: { a: 1, b: 3 },
      source: { file: "targets/hosts.yaml", line: 3, col: 3 },
    });
    expect(model.targets.get("local")).toMatchObject({
      transport: "local",
      sudo: { enabled: true, user: "admin" },
    });
  });

  it("triggers get their defaults", () => {
    const { model } = load({
      "jobs/j.yaml":
        'on:\n  push: true\n  webhook: true\n  schedule: [{ cron: "0 3 * * *" }]\n  manual: false\nsteps: [{ run: x }]\ntargets: { names: [local] }\n',
    });
    expect(model.jobs.get("j")!.on).toEqual({
      push: { branches: ["main"], paths: [] },
      webhook: { types: ["j"] },
      schedule: [{ cron: "0 3 * * *", timezone: "UTC", catchUp: "none" }],
      manual: false,
    });
  });

  it("settings defaults", () => {
    const { model } = load({ "opsconductor.yaml": "" });
    expect(model.settings).toMatchObject({
      records: { branch: "opsconductor/runs", push: true },
      defaults: { shell: "sh" },
    });
  });

  it("durations", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("5 m")).toBeUndefined();
    expect(parseDuration("")).toBeUndefined();
  });

  it("credential key paths are collected without decryption, the sops block left out", () => {
    const { model } = load();
    const prod = model.credentials.get("prod")!;
    expect(prod).toMatchObject({ name: "prod", file: "credentials/prod.sops.yaml", format: "yaml" });
    expect([...prod.keyPaths].sort()).toEqual(["db", "db.password", "ssh", "ssh.private_key"]);
    expect(credentialRefProblem("prod/ssh", model.credentials)).toBeUndefined();
    expect(credentialRefProblem("prod/ssh.private_key", model.credentials)).toBeUndefined();
    expect(credentialRefProblem("prod/ssh.password", model.credentials)?.code).toBe(
      "ref.unknown-credential-key",
    );
    expect(credentialRefProblem("team/prod/x", model.credentials)?.code).toBe("ref.unknown-credential-file");
  });

  it("credential files in subfolders and as JSON", () => {
    const { model } = loadRepo(
      filesOf({
        "opsconductor.yaml": "",
        "credentials/team/db.sops.json":
          '{"pg": {"password": "ENC[x]"}, "list": [{"inner": "ENC[y]"}], "sops": {"mac": "ENC[z]"}}',
      }),
    );
    const file = model.credentials.get("team/db")!;
    expect(file.format).toBe("json");
    expect([...file.keyPaths].sort()).toEqual(["list", "list.inner", "pg", "pg.password"]);
  });

  it.skipIf(!existsSync(VECTORS))("reads key paths of real sops files (shared vectors)", () => {
    const secret = readFileSync(
      join(VECTORS, "Mic92__sops-nix/pkgs/sops-install-secrets/test-assets/secrets.yaml"),
    );
    const json = readFileSync(join(VECTORS, "humphd__sops-age/tests/data/secret.enc.json"));
    const { model, diagnostics } = loadRepo(
      filesOf({
        "opsconductor.yaml": "",
        "credentials/nix.sops.yaml": secret,
        "credentials/humphd.sops.json": json,
      }),
    );
    expect(diagnostics).toEqual([]);
    expect(model.credentials.get("nix")!.keyPaths).toEqual(
      new Set(["test_key", "a_list", "nested", "nested.test", "nested.test.file"]),
    );
    const expected = JSON.parse(
      readFileSync(join(VECTORS, "humphd__sops-age/tests/data/secret.json"), "utf8"),
    ) as Record<string, unknown>;
    for (const key of Object.keys(expected)) expect(model.credentials.get("humphd")!.keyPaths).toContain(key);
    expect(readdirSync(VECTORS).length).toBeGreaterThan(0);
  });

  it("the web-fleet example's credentials are real sops files whose keys resolve", async () => {
    const { model } = loadRepo(await readRepoDir(join(import.meta.dirname, "../../../examples/web-fleet")));
    const prod = model.credentials.get("prod")!;
    for (const ref of ["ssh.private_key", "db.password", "hooks.patch_web", "sudo.password"])
      expect(prod.keyPaths).toContain(ref);
    const targetsWithKeys = [...model.targets.values()].filter((t) => t.transport === "ssh");
    expect(targetsWithKeys.every((t) => t.hostKeys.length === 1)).toBe(true);
    expect(model.jobs.get("deploy-web")!.phases.map((p) => p.name)).toEqual(["canary", "rollout", "report"]);
  });
});
