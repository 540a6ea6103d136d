/** The one YAML parse: limits become problems with a position; ordinary YAML passes untouched. */
import { describe, expect, it } from "vitest";
import { parseYaml, YAML_LIMITS, type ParsedYaml } from "../../src/core/parse-yaml.js";
import { ALIAS_BOMB } from "../helpers/hostile-yaml.js";

function where(p: ParsedYaml): string {
  if (!p.problem) return "no problem";
  const { line, col } = p.lines.linePos(p.problem.offset);
  return `${line}:${col} ${p.problem.code}`;
}

describe("parseYaml", () => {
  it("stops an alias bomb at the alias that crosses the limit", () => {
    const parsed = parseYaml(ALIAS_BOMB);
    // a=10 values, b adds 9*10, c 9*91, d 9*820, e 9*7381: the first alias of line 5 crosses 10000.
    expect(where(parsed)).toBe("5:8 yaml.alias-limit");
    expect(parsed.problem?.message).toMatch(/more than 10000 values/);
  });

  it("refuses an alias inside the value it names, and an alias without an anchor", () => {
    expect(where(parseYaml("a: &a [1, *a]"))).toBe("1:11 yaml.alias-cycle");
    expect(where(parseYaml("a: 1\nb: *nope\n"))).toBe("2:4 yaml.unknown-alias");
  });

  it("refuses nesting deeper than the limit, written or through aliases", () => {
    const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
    expect(where(parseYaml(deep(YAML_LIMITS.maxDepth)))).toBe("no problem");
    expect(where(parseYaml(deep(YAML_LIMITS.maxDepth + 2)))).toMatch(/^1:\d+ yaml\.too-deep$/);
    expect(where(parseYaml(deep(20_000)))).toMatch(/^1:\d+ yaml\.too-deep$/);
    const chain = [
      "a: &a0 [x]",
      ...Array.from({ length: 60 }, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}, *a${i}]`),
    ];
    // 60 levels of one alias each fit; two such chains nested through an alias do not.
    expect(where(parseYaml(chain.join("\n")))).toMatch(/yaml\.(too-deep|alias-limit)/);
  });

  it("refuses text above the size limit before parsing it", () => {
    const parsed = parseYaml(`a: "${"é".repeat(YAML_LIMITS.maxBytes / 2)}"`);
    expect(where(parsed)).toBe("1:1 yaml.too-large");
    expect(parsed.docs).toEqual([]);
  });

  it("passes ordinary anchors, merge keys and several documents", () => {
    const merged = parseYaml("d: &d { user: ops, port: 22 }\nweb: { <<: *d, host: a }\n", { merge: true });
    expect(merged.problem).toBeUndefined();
    expect(merged.docs[0]!.toJS()).toEqual({
      d: { user: "ops", port: 22 },
      web: { user: "ops", port: 22, host: "a" },
    });
    expect(parseYaml("a: 1\n---\nb: 2\n", { all: true }).docs).toHaveLength(2);
    expect(parseYaml("", { all: true }).docs).toEqual([]);
  });
});
