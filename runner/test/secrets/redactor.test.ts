import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MASK, Redactor, SHORT_VALUE_LENGTH } from "../../src/secrets/redactor.js";

describe("Redactor", () => {
  it("masks each value, each line of a multi-line value, longest first", () => {
    const r = new Redactor();
    r.add("abc-secret");
    r.add("abc-secret-longer");
    r.add("-----BEGIN K-----\nline-one-xyz\n-----END K-----\n");
    r.add("");
    expect(r.redact("x abc-secret-longer y abc-secret z")).toBe(`x ${MASK} y ${MASK} z`);
    expect(r.redact("echo line-one-xyz")).toBe(`echo ${MASK}`);
    // Keys are structure: only values are masked.
    expect(r.redactDeep({ "abc-secret": ["abc-secret", 1] })).toEqual({ "abc-secret": [MASK, 1] });
  });

  it(`masks a value shorter than ${SHORT_VALUE_LENGTH} characters only as a whole token`, () => {
    const r = new Redactor();
    for (const v of ["1", "x", "true", "a-b"]) r.add(v);
    // Alone, or between non-word characters: masked.
    expect(r.redact("1")).toBe(MASK);
    expect(r.redact("x")).toBe(MASK);
    expect(r.redact("code=1, flag: true; (x) a-b")).toBe(`code=${MASK}, flag: ${MASK}; (${MASK}) ${MASK}`);
    // Inside numbers, timestamps, words and ids: not a secret there, left alone.
    const text = "20261122T031500Z-patch-web-7f3a 2026-11-01T10:11:01Z 101 x1 truely untrue a-bc";
    expect(r.redact(text)).toBe(text);
    expect(r.redact("exit 1")).toBe(`exit ${MASK}`);
  });

  it(`masks a value of ${SHORT_VALUE_LENGTH} characters or more anywhere, also inside words`, () => {
    const r = new Redactor();
    r.add("hunter22");
    expect(r.redact("xhunter22y")).toBe(`x${MASK}y`);
  });

  it("a one-character secret never leaks as a whole output line, however the line is split", () => {
    const r = new Redactor();
    r.add("7");
    const lines: string[] = [];
    const s = r.lineSplitter((l) => lines.push(l));
    for (const chunk of ["a\n", "7", "\r\n7", "\n 7 \n"]) s.write(chunk);
    s.end();
    expect(lines).toEqual(["a", MASK, MASK, ` ${MASK} `]);
  });

  it("masks a value however the output is split into chunks", () => {
    const secret = "tok-9Zq-split-me";
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 60 }), { maxLength: 6 }), (cuts) => {
        const r = new Redactor();
        r.add(secret);
        const text = `start ${secret} middle\nnext ${secret}\nend`;
        const points = [...new Set(cuts.map((c) => c % text.length))].sort((a, b) => a - b);
        const lines: string[] = [];
        const s = r.lineSplitter((l) => lines.push(l));
        let at = 0;
        for (const p of [...points, text.length]) {
          s.write(text.slice(at, p));
          at = p;
        }
        s.end();
        expect(lines).toEqual([`start ${MASK} middle`, `next ${MASK}`, "end"]);
      }),
    );
  });
});
