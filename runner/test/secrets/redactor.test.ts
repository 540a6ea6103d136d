import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MASK, Redactor } from "../../src/secrets/redactor.js";

describe("Redactor", () => {
  it("masks each value, each line of a multi-line value, longest first", () => {
    const r = new Redactor();
    r.add("abc-secret");
    r.add("abc-secret-longer");
    r.add("-----BEGIN K-----\nline-one-xyz\n-----END K-----\n");
    r.add("");
    expect(r.redact("x abc-secret-longer y abc-secret z")).toBe(`x ${MASK} y ${MASK} z`);
    expect(r.redact("echo line-one-xyz")).toBe(`echo ${MASK}`);
    expect(r.redactDeep({ "abc-secret": ["abc-secret", 1] })).toEqual({ [MASK]: [MASK, 1] });
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
