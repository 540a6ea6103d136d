/**
 * Thousands of mutated documents: the loader never throws, never reports an
 * internal error, and every diagnostic has a file, a line >= 1 and a col >= 1.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseDocument } from "yaml";
import { describe, expect, it } from "vitest";
import { loadRepo } from "../../src/repo/load-repo.js";
import { BASE, filesOf } from "./helpers.js";

const FLEET = join(import.meta.dirname, "../../../examples/web-fleet");
const SEEDS: Array<[string, string]> = [
  ...Object.entries(BASE),
  ...[
    "jobs/patch-web.yaml",
    "jobs/deploy-web.yaml",
    "steps/web/deploy.yaml",
    "targets/web.yaml",
    "steps/apt/install.yaml",
  ].map((p) => [p, readFileSync(join(FLEET, p), "utf8")] as [string, string]),
];

const TOKENS = [
  ":",
  "- ",
  "{",
  "}",
  "[",
  "]",
  "&a ",
  "*a",
  "!!str ",
  "|",
  ">",
  '"',
  "'",
  "#",
  "\n",
  "  ",
  "\t",
  "${{ ",
  " }}",
  "${{",
  "---\n",
  "? ",
  ",",
  "\u0000",
  "é",
  "~",
  "null",
  "<<: *a\n",
];

type Mutation =
  | { kind: "insert"; at: number; token: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "dupline"; line: number }
  | { kind: "dropline"; line: number }
  | { kind: "indent"; line: number; by: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    token: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 })),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant("dupline" as const), line: fc.nat() }),
  fc.record({ kind: fc.constant("dropline" as const), line: fc.nat() }),
  fc.record({ kind: fc.constant("indent" as const), line: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
);

function apply(text: string, m: Mutation): string {
  const lines = text.split("\n");
  switch (m.kind) {
    case "insert": {
      const at = text.length === 0 ? 0 : m.at % (text.length + 1);
      return text.slice(0, at) + m.token + text.slice(at);
    }
    case "delete": {
      const at = text.length === 0 ? 0 : m.at % text.length;
      return text.slice(0, at) + text.slice(at + m.length);
    }
    case "dupline": {
      const i = m.line % lines.length;
      lines.splice(i, 0, lines[i]!);
      return lines.join("\n");
    }
    case "dropline":
      lines.splice(m.line % lines.length, 1);
      return lines.join("\n");
    case "indent": {
      const i = m.line % lines.length;
      const l = lines[i]!;
      lines[i] = m.by >= 0 ? " ".repeat(m.by) + l : l.slice(Math.min(-m.by, l.length - l.trimStart().length));
      return lines.join("\n");
    }
  }
}

/** Replaces one value of the parsed document with arbitrary JSON: shapes the schema never expected. */
function replaceValue(text: string, pick: number, value: unknown): string {
  const doc = parseDocument(text);
  const paths: Array<Array<string | number>> = [];
  const walk = (v: unknown, path: Array<string | number>) => {
    paths.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(doc.toJS(), []);
  const path = paths[pick % paths.length]!;
  if (path.length === 0) return JSON.stringify(value);
  doc.setIn(path, doc.createNode(value));
  return doc.toString();
}

function check(path: string, text: string): void {
  const files: Record<string, string> = { ...BASE, [path]: text };
  const { diagnostics } = loadRepo(filesOf(files));
  for (const d of diagnostics) {
    expect(d.code, d.message).not.toBe("internal.bug");
    expect(typeof d.file).toBe("string");
    expect(d.file.length).toBeGreaterThan(0);
    expect(Number.isInteger(d.line) && d.line >= 1, `${d.code} line ${d.line}`).toBe(true);
    expect(Number.isInteger(d.col) && d.col >= 1, `${d.code} col ${d.col}`).toBe(true);
    expect(d.message.length).toBeGreaterThan(0);
  }
}

// Thousands of whole-repository loads: seconds on a quiet machine, minutes on a loaded one.
const FUZZ_TIMEOUT_MS = 300_000;

describe("loader under mutation", () => {
  it(
    "text mutations",
    () => {
      fc.assert(
        fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }), (seed, ms) => {
          const [path, text] = SEEDS[seed % SEEDS.length]!;
          check(path, ms.reduce(apply, text));
        }),
        { numRuns: 2500 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "structural mutations",
    () => {
      fc.assert(
        fc.property(fc.nat(), fc.nat(), fc.jsonValue({ maxDepth: 3 }), (seed, pick, value) => {
          const [path, text] = SEEDS[seed % SEEDS.length]!;
          if (path.startsWith("credentials/")) return;
          check(path, replaceValue(text, pick, value));
        }),
        { numRuns: 1500 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
