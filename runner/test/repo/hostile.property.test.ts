/**
 * Generated hostile YAML (alias bombs and cycles, deep nesting, odd keys such
 * as __proto__, invalid UTF-8, large files) through the repository loader and
 * the sops reader: a diagnostic (or user error) with a position, or a clean
 * pass; never a crash, an internal error, a polluted prototype or a hang.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOpscError } from "../../src/core/errors.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { parseYamlBranches } from "../../src/secrets/sops-yaml.js";
import { BASE, filesOf } from "./helpers.js";

/** Far above what any case needs on a loaded machine; a hang or an exponential blow-up goes way past it. */
const CASE_LIMIT_MS = 15_000;

const ODD_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "<<",
  "sops",
  "valueOf",
];
const PATHS = [
  "opsconductor.yaml",
  "jobs/h.yaml",
  "steps/h.yaml",
  "targets/h.yaml",
  "credentials/h.sops.yaml",
];

const key = fc.oneof(fc.constantFrom(...ODD_KEYS), fc.stringMatching(/^[a-z_]{1,8}$/));

/** width^depth values once expanded. */
const aliasBomb = fc
  .record({ width: fc.integer({ min: 2, max: 12 }), depth: fc.integer({ min: 2, max: 10 }) })
  .map(({ width, depth }) => {
    const lines = [`l0: &l0 [${Array(width).fill("x").join(", ")}]`];
    for (let i = 1; i < depth; i++)
      lines.push(
        `l${i}: &l${i} [${Array(width)
          .fill(`*l${i - 1}`)
          .join(", ")}]`,
      );
    return lines.join("\n") + "\n";
  });

const deepNesting = fc
  .record({ depth: fc.integer({ min: 1, max: 3000 }), flow: fc.boolean(), k: key })
  .map(({ depth, flow, k }) =>
    flow
      ? `${k}: ${"[".repeat(depth)}1${"]".repeat(depth)}\n`
      : Array.from({ length: Math.min(depth, 400) }, (_, i) => `${" ".repeat(i)}${k}${i}:`).join("\n") +
        " 1\n",
  );

const aliasTricks = fc
  .record({ k: key, anchor: fc.stringMatching(/^[a-z]{1,3}$/), kind: fc.integer({ min: 0, max: 3 }) })
  .map(
    ({ k, anchor, kind }) =>
      [
        `${k}: &${anchor} [1, *${anchor}]\n`,
        `${k}: *${anchor}\n`,
        `base: &${anchor} { ${k}: 1, polluted: yes }\n${k}: { <<: *${anchor}, <<: *${anchor} }\n`,
        `&${anchor} ${k}: { *${anchor} : 1 }\n`,
      ][kind]!,
  );

const oddKeys = fc
  .array(fc.tuple(key, fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant("{ polluted: true }"))), {
    maxLength: 6,
  })
  .map(
    (pairs) =>
      pairs
        .map(([k, v]) => `${JSON.stringify(k)}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join("\n") + "\n",
  );

const large = fc
  .record({ size: fc.integer({ min: 900 * 1024, max: 1100 * 1024 }), k: key })
  .map(({ size, k }) => `${k}: "${"x".repeat(size)}"\n`);

// A 1 MiB case takes a second or two to lex: a few of them are enough.
const text = fc.oneof(
  { arbitrary: aliasBomb, weight: 10 },
  { arbitrary: deepNesting, weight: 10 },
  { arbitrary: aliasTricks, weight: 10 },
  { arbitrary: oddKeys, weight: 10 },
  { arbitrary: large, weight: 1 },
);

/** Bytes of the text, sometimes with bytes that break UTF-8 spliced in. */
const hostileBytes = fc
  .tuple(
    text,
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x80, 0xc0, 0xe9, 0xed, 0xf5, 0xff)), { maxLength: 3 }),
  )
  .map(([t, bad]) => {
    const bytes = Array.from(new TextEncoder().encode(t));
    for (const [at, b] of bad) bytes.splice(at % (bytes.length + 1), 0, b);
    return new Uint8Array(bytes);
  });

function timed<T>(what: string, f: () => T): T {
  const started = performance.now();
  const out = f();
  expect(performance.now() - started, `${what} took too long`).toBeLessThan(CASE_LIMIT_MS);
  return out;
}

describe("hostile YAML", () => {
  it("the loader answers with positioned diagnostics or a clean pass, promptly", () => {
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), hostileBytes, (path, bytes) => {
        const { diagnostics } = timed("loadRepo", () => loadRepo(filesOf({ ...BASE, [path]: bytes })));
        for (const d of diagnostics) {
          expect(d.code, d.message).not.toBe("internal.bug");
          expect(d.line >= 1 && d.col >= 1, `${d.file}:${d.line}:${d.col} ${d.code}`).toBe(true);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  }, 300_000);

  it("the sops reader returns or throws a user error with a position, promptly", () => {
    fc.assert(
      fc.property(hostileBytes, (bytes) => {
        timed("parseYamlBranches", () => {
          try {
            parseYamlBranches(Buffer.from(bytes).toString("utf8"), "credentials/h.sops.yaml");
          } catch (e) {
            expect(isOpscError(e) && e.kind === "user", String(e)).toBe(true);
            if (isOpscError(e)) expect(e.position?.line, e.message).toBeGreaterThanOrEqual(1);
          }
        });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  }, 300_000);
});
