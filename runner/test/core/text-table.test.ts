import { describe, expect, it } from "vitest";
import { textTable } from "../../src/core/text-table.js";

describe("textTable", () => {
  it("pads each column to its widest cell, two spaces apart, and leaves the last column unpadded", () => {
    expect(
      textTable([
        ["NAME", "STATE", "NOTE"],
        ["web-1", "ok", "-"],
        ["db", "unreachable", "timed out after 10 s"],
      ]),
    ).toEqual([
      "NAME   STATE        NOTE",
      "web-1  ok           -",
      "db     unreachable  timed out after 10 s",
    ]);
  });

  it("never ends a line with blanks, even when the last cell is the shortest", () => {
    for (const line of textTable([
      ["A", "LONG HEADER"],
      ["b", ""],
    ]))
      expect(line).toBe(line.trimEnd());
  });

  it("counts a character outside the basic plane as one column", () => {
    const lines = textTable([
      ["✓ok 🚀", "x"],
      ["abcdef", "y"],
    ]);
    expect([...lines[0]!].length).toBe([...lines[1]!].length);
    expect(lines[0]).toBe("✓ok 🚀   x");
  });

  it("handles no rows and rows of different lengths", () => {
    expect(textTable([])).toEqual([]);
    expect(textTable([["a", "bb", "c"], ["aaa"]])).toEqual(["a    bb  c", "aaa"]);
  });
});
