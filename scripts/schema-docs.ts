/**
 * Generates the field reference in docs/repository-format.md from the JSON
 * Schemas' descriptions, so the docs cannot drift from what validation checks.
 *
 *   npx tsx scripts/schema-docs.ts          # rewrite the generated section
 *   npx tsx scripts/schema-docs.ts --check  # exit 1 when it is stale (CI)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";

type Schema = Record<string, unknown>;

const ROOT = join(import.meta.dirname, "..");
const DOC = join(ROOT, "docs/repository-format.md");
const BEGIN = "<!-- BEGIN GENERATED: scripts/schema-docs.ts -->";
const END = "<!-- END GENERATED -->";

const FILES: Array<[string, string]> = [
  ["opsconductor.schema.json", "`opsconductor.yaml`"],
  ["targets.schema.json", "`targets/*.yaml`"],
  ["step.schema.json", "`steps/**/*.yaml`"],
  ["job.schema.json", "`jobs/**/*.yaml`"],
  ["access.schema.json", "`access.yaml`"],
  ["vars.schema.json", "`vars/*.yaml`"],
  ["lock.schema.json", "`opsconductor.lock`"],
];

function resolve(root: Schema, s: Schema): Schema {
  const ref = s.$ref;
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
    const target = (root.$defs as Record<string, Schema>)[ref.slice("#/$defs/".length)]!;
    return {
      ...resolve(root, target),
      ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")),
    };
  }
  return s;
}

function typeOf(root: Schema, raw: Schema): string {
  const s = resolve(root, raw);
  if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${String(v)}\``).join(" or ");
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alts && !s.type) return alts.map((a) => typeOf(root, a)).join(" or ");
  const t = s.type;
  const name = (x: unknown): string => {
    if (x === "array") {
      const items = s.items as Schema | undefined;
      return items ? `list of ${typeOf(root, items)}` : "list";
    }
    if (x === "object") {
      const add = s.additionalProperties;
      return add && typeof add === "object" && !s.properties
        ? `map of ${typeOf(root, add as Schema)}`
        : "mapping";
    }
    return String(x);
  };
  if (Array.isArray(t)) return t.map(name).join(" or ");
  if (t) return name(t);
  return "any";
}

function escape(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function rows(
  root: Schema,
  s0: Schema,
  prefix: string,
  out: string[],
  ancestors: ReadonlySet<unknown>,
): void {
  const s = resolve(root, s0);
  // Resolved schemas are fresh objects; the $ref'd definition identifies a cycle.
  const identity = typeof s0.$ref === "string" ? s0.$ref : s0;
  if (ancestors.has(identity)) return;
  const seen = new Set([...ancestors, identity]);
  const candidates: Schema[] = [s];
  for (const alt of ((s.anyOf ?? []) as Schema[]).map((a) => resolve(root, a)))
    if (alt.properties) candidates.push(alt);
  const add = s.additionalProperties;
  if (add && typeof add === "object") {
    for (const alt of [add as Schema, ...(((add as Schema).anyOf ?? []) as Schema[])].map((a) =>
      resolve(root, a),
    )) {
      if (alt.properties) rows(root, alt, `${prefix}.<id>`, out, seen);
    }
  }
  for (const c of candidates) {
    const props = (c.properties ?? {}) as Record<string, Schema>;
    const required = new Set((c.required ?? []) as string[]);
    for (const [name, raw] of Object.entries(props)) {
      const p = resolve(root, raw);
      const path = prefix ? `${prefix}.${name}` : name;
      const def = p.default !== undefined ? ` Default: \`${JSON.stringify(p.default)}\`.` : "";
      out.push(
        `| \`${path}\`${required.has(name) ? " (required)" : ""} | ${escape(typeOf(root, raw))} | ${escape(String(raw.description ?? p.description ?? ""))}${def} |`,
      );
      const items = p.items as Schema | undefined;
      if (items) rows(root, items, `${path}[]`, out, seen);
      rows(root, p, path, out, seen);
    }
  }
}

export function generate(): string {
  const parts: string[] = [
    BEGIN,
    "",
    "_Generated from `schema/*.json` by `scripts/schema-docs.ts`; edit the schemas, then rerun it._",
    "",
  ];
  for (const [file, title] of FILES) {
    const schema = JSON.parse(readFileSync(join(ROOT, "schema", file), "utf8")) as Schema;
    parts.push(
      `### ${title}`,
      "",
      `${String(schema.description)} Schema: [\`schema/${file}\`](../schema/${file}), \`$id\` ${String(schema.$id)}.`,
      "",
    );
    const out: string[] = [];
    rows(schema, schema, "", out, new Set<unknown>());
    parts.push("| field | type | meaning |", "| --- | --- | --- |", ...out, "");
  }
  parts.push(END);
  return parts.join("\n");
}

async function main(): Promise<void> {
  const doc = readFileSync(DOC, "utf8");
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`${DOC} lacks the ${BEGIN} ... ${END} markers`);
  // Formatted as `npm run format` would, so --check agrees with format:check.
  const options = (await prettier.resolveConfig(DOC)) ?? {};
  const next = await prettier.format(doc.slice(0, start) + generate() + doc.slice(end + END.length), {
    ...options,
    filepath: DOC,
  });
  if (process.argv.includes("--check")) {
    if (next !== doc) {
      console.error("docs/repository-format.md is stale: run `npx tsx scripts/schema-docs.ts`");
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(DOC, next);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
