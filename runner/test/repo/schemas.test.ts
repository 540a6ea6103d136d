/** The JSON Schemas are the public contract: checked for completeness and consistency. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { SCHEMAS } from "../../src/repo/schemas.js";

const DIR = join(import.meta.dirname, "../../../schema");
const OWN = [
  "opsconductor.schema.json",
  "targets.schema.json",
  "step.schema.json",
  "job.schema.json",
  "access.schema.json",
  "lock.schema.json",
];

function load(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(DIR, name), "utf8")) as Record<string, unknown>;
}

/** Every entry of every `properties` mapping, with its JSON pointer. */
function* properties(node: unknown, pointer = "#"): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* properties(item, `${pointer}/${i}`);
  } else if (node !== null && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "properties" && v && typeof v === "object") {
        for (const [name, prop] of Object.entries(v))
          yield [`${pointer}/properties/${name}`, prop as Record<string, unknown>];
      }
      yield* properties(v, `${pointer}/${k}`);
    }
  }
}

describe("schemas", () => {
  it.each(OWN)("%s is draft 2020-12 with an $id and a description on every property", (name) => {
    const schema = load(name);
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toBe(`https://opsconductor.dev/schema/${name}`);
    const missing = [...properties(schema)].filter(
      ([, p]) => typeof p.description !== "string" || p.description.length < 8,
    );
    expect(missing.map(([ptr]) => ptr)).toEqual([]);
  });

  it.each(OWN)("%s compiles in ajv's strict mode", (name) => {
    const ajv = new Ajv2020({
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
      validateFormats: false,
    });
    expect(() => ajv.compile(load(name))).not.toThrow();
  });

  it("the bundled schemas are the files in schema/", () => {
    expect(SCHEMAS.job).toEqual(load("job.schema.json"));
    expect(SCHEMAS.step).toEqual(load("step.schema.json"));
    expect(SCHEMAS.targets).toEqual(load("targets.schema.json"));
    expect(SCHEMAS.settings).toEqual(load("opsconductor.schema.json"));
    expect(SCHEMAS.access).toEqual(load("access.schema.json"));
    expect(SCHEMAS.lock).toEqual(load("lock.schema.json"));
  });

  it("definitions shared between schemas are identical (each schema is self-contained for editors)", () => {
    const defs = OWN.map((n) => [n, (load(n).$defs ?? {}) as Record<string, unknown>] as const);
    const seen = new Map<string, { from: string; def: unknown }>();
    for (const [file, d] of defs) {
      for (const [key, def] of Object.entries(d)) {
        const prior = seen.get(key);
        if (prior) expect(def, `$defs/${key} in ${file} differs from ${prior.from}`).toEqual(prior.def);
        else seen.set(key, { from: file, def });
      }
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it("schema/ holds no unexpected files of ours", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".schema.json"));
    for (const f of OWN) expect(files).toContain(f);
  });
});
