import { describe, expect, it } from "vitest";
import type { JobDef, RepoModel, StepDef, StepUse, TargetDef } from "../../src/core/repo-model.js";
import { batchesOf, buildPlan } from "../../src/plan/build-plan.js";
import { renderPlan } from "../../src/plan/render-plan.js";

const pos = { file: "x.yaml", line: 1, col: 1 };
const manual = { kind: "manual" as const, actor: "tester" };

function target(id: string, labels: Record<string, string>, extra: Partial<TargetDef> = {}): TargetDef {
  return {
    id,
    transport: "ssh",
    host: "127.0.0.1",
    port: 22,
    hostKeys: [],
    shell: "sh",
    labels,
    vars: {},
    source: pos,
    ...extra,
  };
}

function step(id: string, extra: Partial<StepUse> = {}): StepUse {
  return { id, with: {}, env: {}, continueOnError: false, source: pos, ...extra };
}

function job(extra: Partial<JobDef> = {}): JobDef {
  return {
    id: "patch",
    on: { schedule: [], manual: true },
    inputs: {
      package: { type: "string", default: "nginx", pattern: "^[a-z0-9.+-]+$" },
      count: { type: "integer", default: 1 },
    },
    phases: [
      {
        name: "main",
        targets: { match: { role: "web" }, exclude: ["web-3"] },
        strategy: { parallel: 2, batch: "50%", maxFailures: 0 },
        steps: [
          step("install", { uses: "apt/install", with: { packages: ["${{ inputs.package }}", "curl"] } }),
          step("reload", { run: "systemctl reload nginx", if: "${{ steps.install.changed }}" }),
          step("hello", {
            run: "echo $GREETING",
            env: { GREETING: "hi ${{ target.name }} v${{ inputs.count }}" },
          }),
        ],
        source: pos,
      },
    ],
    env: { MODE: "${{ inputs.package }}" },
    secrets: { DB_PASSWORD: "prod/db.password" },
    notify: [],
    source: pos,
    ...extra,
  };
}

function model(j: JobDef = job()): RepoModel {
  const targets = new Map<string, TargetDef>();
  for (const t of [
    target("web-1", { role: "web" }),
    target("web-2", { role: "web" }),
    target("web-3", { role: "web" }),
    target("web-4", { role: "web" }),
    target("db-1", { role: "db" }, { jump: "bastion" }),
    target("bastion", { role: "jump" }),
  ])
    targets.set(t.id, t);
  return {
    settings: {
      records: { branch: "opsconductor/runs", push: true },
      defaults: { shell: "sh" },
      source: pos,
    },
    targets,
    steps: new Map<string, StepDef>([
      [
        "apt/install",
        {
          id: "apt/install",
          inputs: {
            packages: { type: "array", items: { type: "string" } },
            update_cache: { type: "boolean", default: true },
          },
          check: "dpkg -s $INPUT_PACKAGES",
          run: "apt-get install -y $INPUT_PACKAGES",
          env: {},
          sudo: true,
          timeoutMs: 300_000,
          source: pos,
        },
      ],
      [
        "web/deploy",
        {
          id: "web/deploy",
          inputs: { version: { type: "string" } },
          steps: [
            step("fetch", { run: "fetch $V", env: { V: "${{ inputs.version }}" } }),
            step("switch", { run: "switch" }),
          ],
          env: {},
          source: pos,
        },
      ],
    ]),
    jobs: new Map([[j.id, j]]),
    credentials: new Map(),
  };
}

describe("buildPlan", () => {
  it("selects by labels minus exclusions, in rolling batches", () => {
    const { plan, diagnostics } = buildPlan(model(), { job: "patch", trigger: manual });
    expect(diagnostics).toEqual([]);
    expect(plan!.phases[0]!.targets).toEqual(["web-1", "web-2", "web-4"]);
    expect(plan!.phases[0]!.batches).toEqual([["web-1", "web-2"], ["web-4"]]);
    expect(Object.keys(plan!.targets).sort()).toEqual(["web-1", "web-2", "web-4"]);
  });

  it("resolves library steps into env inputs and renders only plan-time expressions", () => {
    const { plan } = buildPlan(model(), { job: "patch", trigger: manual, inputs: { package: "redis" } });
    const [install, reload, hello] = plan!.phases[0]!.steps;
    expect(install).toMatchObject({
      id: "install",
      uses: "apt/install",
      run: "apt-get install -y $INPUT_PACKAGES",
      sudo: true,
      timeoutMs: 300_000,
      env: { INPUT_PACKAGES: "redis curl", INPUT_UPDATE_CACHE: "true" },
    });
    expect(reload!.if).toBe("${{ steps.install.changed }}");
    // target.* is known only per target at run time: that part stays for the engine, inputs are evaluated now.
    expect(hello!.env.GREETING).toBe("hi ${{ target.name }} v1");
    expect(plan!.env.MODE).toBe("redis");
    expect(plan!.secrets).toEqual({ DB_PASSWORD: "prod/db.password" });
  });

  it("coerces text inputs by schema and reports bad, unknown and missing ones", () => {
    const ok = buildPlan(model(), { job: "patch", trigger: manual, inputs: { count: "3" }, fromText: true });
    expect(ok.plan!.inputs).toEqual({ package: "nginx", count: 3 });

    const bad = buildPlan(model(), {
      job: "patch",
      trigger: manual,
      inputs: { package: "nginx; rm -rf /", nope: "1" },
      fromText: true,
    });
    expect(bad.plan).toBeUndefined();
    const codes = bad.diagnostics.map((d) => d.code).sort();
    expect(codes).toEqual(["plan.invalid-input", "plan.unknown-input"]);
    expect(bad.diagnostics.find((d) => d.code === "plan.invalid-input")!.message).toContain(
      'input "package"',
    );

    const j = job({ inputs: { version: { type: "string" } } });
    const missing = buildPlan(model(j), { job: "patch", trigger: manual });
    expect(missing.diagnostics[0]).toMatchObject({
      code: "plan.missing-input",
      hint: "pass it with --input version=VALUE",
    });
  });

  it("names the jobs that exist when asked for an unknown one", () => {
    const { diagnostics } = buildPlan(model(), { job: "nope", trigger: manual });
    expect(diagnostics[0]).toMatchObject({
      code: "plan.unknown-job",
      hint: "jobs in this repository: patch",
    });
  });

  it("flattens composite steps with the composite's inputs", () => {
    const j = job();
    j.phases[0]!.steps = [
      step("deploy", { uses: "web/deploy", with: { version: "1.2.${{ inputs.count }}" }, if: "success()" }),
    ];
    const { plan } = buildPlan(model(j), { job: "patch", trigger: manual });
    const steps = plan!.phases[0]!.steps;
    expect(steps.map((s) => s.id)).toEqual(["deploy/fetch", "deploy/switch"]);
    expect(steps[0]!.env).toMatchObject({ V: "1.2.1", INPUT_VERSION: "1.2.1" });
    expect(steps[1]!.if).toBe("success()");
  });

  it("narrows by command-line filters and resolves jump chains", () => {
    const j = job();
    j.phases[0]!.targets = { names: ["db-*"] };
    const { plan } = buildPlan(model(j), { job: "patch", trigger: manual });
    expect(plan!.targets["db-1"]!.jump!.name).toBe("bastion");

    const narrowed = buildPlan(model(), { job: "patch", trigger: manual, filter: { names: ["web-2"] } });
    expect(narrowed.plan!.phases[0]!.targets).toEqual(["web-2"]);
    const none = buildPlan(model(), { job: "patch", trigger: manual, filter: { match: { role: "db" } } });
    expect(none.diagnostics.map((d) => d.code)).toEqual(["plan.no-targets"]);
  });

  it("deals targets to shards so each lands in exactly one", () => {
    const j = job();
    j.phases[0]!.targets = {};
    const seen: string[] = [];
    for (let k = 1; k <= 4; k++) {
      const { plan } = buildPlan(model(j), { job: "patch", trigger: manual, shard: { index: k, count: 4 } });
      seen.push(...plan!.phases[0]!.targets);
    }
    expect(seen.sort()).toEqual(["bastion", "db-1", "web-1", "web-2", "web-3", "web-4"]);
  });

  it("sizes batches by count or percentage", () => {
    const names = ["a", "b", "c", "d", "e"];
    expect(batchesOf(names, { parallel: 1, maxFailures: 0 })).toEqual([names]);
    expect(batchesOf(names, { parallel: 1, batch: 2, maxFailures: 0 })).toEqual([
      ["a", "b"],
      ["c", "d"],
      ["e"],
    ]);
    expect(batchesOf(names, { parallel: 1, batch: "10%", maxFailures: 0 })).toHaveLength(5);
  });

  it("renders text and markdown naming every step and target", () => {
    const { plan } = buildPlan(model(), { job: "patch", trigger: manual });
    const text = renderPlan(plan!, "text");
    expect(text).toContain("batch 2: web-4");
    expect(text).toContain("- install (uses apt/install, check, sudo, timeout 5m)");
    expect(text).toContain("DB_PASSWORD <- prod/db.password");
    expect(renderPlan(plan!, "markdown")).toContain("| `reload` | run, if ${{ steps.install.changed }} |");
    expect(JSON.parse(renderPlan(plan!, "json")).job).toBe("patch");
  });
});
