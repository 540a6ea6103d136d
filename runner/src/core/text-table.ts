/**
 * Columns for the terminal: each cell padded to its column's widest cell, two
 * spaces between columns, no blanks at the end of a line.
 * Widths count code points, so `…` or `✓` take one column, not two UTF-16 units.
 */
export function textTable(rows: readonly (readonly string[])[]): string[] {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(0, ...rows.map((r) => width(r[i] ?? ""))),
  );
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - width(c))))
      .join("  ")
      .trimEnd(),
  );
}

function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
