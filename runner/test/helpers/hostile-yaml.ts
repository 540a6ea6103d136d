/** YAML written to hurt a parser, shared by the tests of every reader. */

/** Nine levels of nine aliases: 9^9 values once expanded; the limit trips at 5:8. */
export const ALIAS_BOMB = [
  "a: &a [x, x, x, x, x, x, x, x, x]",
  ..."bcdefghi".split("").map((c, i) => {
    const prev = "abcdefghi"[i]!;
    return `${c}: &${c} [${Array(9).fill(`*${prev}`).join(", ")}]`;
  }),
].join("\n");
