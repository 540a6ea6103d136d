import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseOutputs, StepStdout } from "../../src/run/step-stdout.js";

const MARKER = "OPSC-0123456789abcdef";

function feed(chunks: Buffer[]): { text: string; trailer: ReturnType<StepStdout["end"]> } {
  let text = "";
  const s = new StepStdout(MARKER, (t) => (text += t));
  for (const c of chunks) s.write(c);
  return { text, trailer: s.end() };
}

describe("StepStdout", () => {
  it("splits text from trailer however the stream is chunked, even inside a UTF-8 character", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 40 }),
        fc.array(fc.nat(60), { maxLength: 6 }),
        (userText, cuts) => {
          const whole = Buffer.from(`${userText}${MARKER} ran 3\nout=1\n`, "utf8");
          const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let at = 0;
          for (const p of points) {
            chunks.push(whole.subarray(at, p));
            at = p;
          }
          chunks.push(whole.subarray(at));
          const { text, trailer } = feed(chunks);
          expect(text).toBe(userText);
          expect(trailer).toEqual({ kind: "ran", exitCode: 3, outputs: "out=1\n" });
        },
      ),
    );
  });

  it("passes a complete line on at once, before the step ends", () => {
    let text = "";
    const s = new StepStdout(MARKER, (t) => (text += t));
    s.write(Buffer.from("sleeping\n"));
    expect(text).toBe("sleeping\n");
    s.write(Buffer.from("partial OPS"));
    expect(text).toBe("sleeping\npartial ");
  });

  it("has no trailer when the wrapper was killed, and keeps a forged-looking line as text", () => {
    const { text, trailer } = feed([Buffer.from("OPSC-forged ran 0\nchanged=false\n")]);
    expect(trailer).toBeUndefined();
    expect(text).toBe("OPSC-forged ran 0\nchanged=false\n");
  });
});

describe("parseOutputs", () => {
  it("reads name=value lines and delimited multi-line values", () => {
    expect(parseOutputs("a=1\nb=x=y\nbad line\nmotd<<END\nline 1\nline 2\nEND\nc=\n")).toEqual({
      a: "1",
      b: "x=y",
      motd: "line 1\nline 2",
      c: "",
    });
  });
});
