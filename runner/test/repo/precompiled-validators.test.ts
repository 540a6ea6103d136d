/**
 * The repository's schemas and the draft 2020-12 meta-schema are precompiled
 * (scripts/schema-validators.ts): the generated modules must be current, and
 * each precompiled validator must report exactly what ajv compiling the
 * schema file at run time reports.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { AJV_OPTIONS, META_SCHEMA_ID } from "../../src/core/ajv-options.js";
import { inputValidator } from "../../src/core/input-schema.js";
import { PARTIAL_POINTERS } from "../../src/repo/partial-pointers.js";
import { SCHEMAS, schemaValidator, type FileKind } from "../../src/repo/schemas.js";

const ROOT = join(import.meta.dirname, "../../..");
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

function runtimeAjv(): Ajv2020 {
  const ajv = new Ajv2020({ ...AJV_OPTIONS });
  addFormats(ajv);
  for (const name of ["opsconductor", "targets", "step", "job"]) {
    ajv.addSchema(JSON.parse(readFileSync(join(ROOT, "schema", `${name}.schema.json`), "utf8")) as object);
  }
  return ajv;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "credentials" ? [] : yamlFiles(path);
    return name.endsWith(".yaml") ? [path] : [];
  });
}

function kindOf(path: string): FileKind {
  if (path.endsWith("opsconductor.yaml")) return "settings";
  if (path.includes("/targets/")) return "targets";
  if (path.includes("/steps/")) return "step";
  return "job";
}

/** Valid files of every kind from examples/, and values that break each schema in many ways. */
function samples(): Array<[FileKind, unknown]> {
  const valid = yamlFiles(join(ROOT, "examples")).map(
    (f) => [kindOf(f), parse(readFileSync(f, "utf8")) as unknown] as [FileKind, unknown],
  );
  expect(valid.filter(([k]) => k === "job").length).toBeGreaterThan(3);
  const broken: Array<[FileKind, unknown]> = [
    ["settings", { name: 3, records: { branch: ["x"], push: "yes" }, unknown: true }],
    ["settings", "text"],
    ["targets", { targets: { "bad name": { host: 5, port: "x", labels: [1] } }, extra: 1 }],
    ["targets", { defaults: { shell: 7 }, targets: { a: { host: "h", port: 70000 } } }],
    ["step", { description: 1, inputs: { a: { type: "nope" } }, run: ["x"], steps: [{ uses: 3 }] }],
    ["step", { run: "x", check: { run: 5 }, env: { A: {} } }],
    [
      "job",
      {
        on: { schedule: [{ cron: 5 }], push: { paths: "x" }, webhook: 1, manual: "no" },
        targets: { match: 5 },
        strategy: { parallel: -1 },
        notify: { on_failure: [{ webhook: "not a uri" }, { email: "not-an-email" }] },
        steps: [{ id: "Bad Id", run: 1 }, { uses: "x", with: 1 }, 3],
      },
    ],
    ["job", { steps: [], phases: [{ name: 1, steps: "x" }], secrets: [1], description: [] }],
    ["job", null],
  ];
  return [...valid, ...broken];
}

describe("precompiled schema validators", () => {
  it("the generated modules are current (npx tsx scripts/schema-validators.ts --check)", () => {
    const tsx = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
    const r = spawnSync(
      process.execPath,
      ["--import", tsx, join(ROOT, "scripts/schema-validators.ts"), "--check"],
      { encoding: "utf8" },
    );
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("each kind's validator reports exactly what ajv compiling schema/ reports", () => {
    const ajv = runtimeAjv();
    let invalid = 0;
    for (const [kind, value] of samples()) {
      const runtime = ajv.getSchema(String(SCHEMAS[kind].$id))!;
      const pre = schemaValidator(kind)!;
      const ok = runtime(value);
      expect(pre(value)).toBe(ok);
      expect(pre.errors ?? null).toEqual(runtime.errors ?? null);
      if (!ok) invalid++;
    }
    expect(invalid).toBeGreaterThanOrEqual(9);
  });

  it("each sub-schema validator of PARTIAL_POINTERS matches ajv's getSchema by pointer", () => {
    const ajv = runtimeAjv();
    const values: unknown[] = [
      undefined,
      null,
      "text",
      5,
      [1],
      { a: 1 },
      { uses: "x" },
      { id: "a", run: "echo" },
      [{ cron: "0 * * * *" }],
      { branches: ["main"] },
      { a: { type: "string" } },
    ];
    for (const kind of ["job", "step"] as const) {
      for (const pointer of PARTIAL_POINTERS[kind]) {
        const runtime = ajv.getSchema(`${String(SCHEMAS[kind].$id)}${pointer}`)!;
        expect(runtime, `${kind}${pointer}`).toBeDefined();
        const pre = schemaValidator(kind, pointer)!;
        for (const v of values) {
          expect(pre(v), `${kind}${pointer} on ${JSON.stringify(v)}`).toBe(runtime(v));
          expect(pre.errors ?? null).toEqual(runtime.errors ?? null);
        }
      }
    }
  });

  it("input schemas are checked against the meta-schema as ajv.validateSchema does", () => {
    const ajv = new Ajv2020({ ...AJV_OPTIONS });
    addFormats(ajv);
    const schemas: Array<Record<string, unknown>> = [
      { type: "nope" },
      { type: "string", minLength: -1 },
      { type: "object", properties: { a: { enum: "x" } }, required: "a" },
      { $schema: META_SCHEMA_ID, type: ["string", 3] },
      { type: "integer", default: 3 },
    ];
    for (const schema of schemas) {
      const expected = ajv.validateSchema(schema)
        ? "valid"
        : ajv.errorsText(ajv.errors, { dataVar: "schema" });
      const fn = inputValidator(schema);
      expect(typeof fn === "string" ? fn : "valid").toBe(expected);
    }
  });
});
