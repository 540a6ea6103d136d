import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OpscError } from "../../src/core/errors.js";
import { StepStdout } from "../../src/run/step-stdout.js";
import { buildStepScript } from "../../src/transports/script-builder.js";
import { quotePowerShell, quoteSh } from "../../src/transports/shell-quote.js";

const hasBash = spawnSync("bash", ["--version"]).status === 0;

/** Runs a built script the way a transport does: the shell reads it on stdin. */
function run(shell: "sh" | "bash", script: string): { stdout: Buffer; status: number | null } {
  const args = shell === "bash" ? ["--noprofile", "--norc", "-s"] : ["-s"];
  const r = spawnSync(shell, args, { input: script, env: { PATH: process.env.PATH } });
  return { stdout: r.stdout, status: r.status };
}

const tricky = fc.constantFrom(
  "'",
  '"',
  "$(touch /tmp/opsc-pwned)",
  "`id`",
  "\n",
  "\r\n",
  "\\",
  "${PATH}",
  "'\\''",
  "%s",
  "é",
  "日本語",
  "🙂",
  "\t",
  "-e",
  "*",
  "~",
  "!",
  "EOF",
);
const value = fc
  .array(
    fc.oneof(
      tricky,
      fc.string({ unit: "grapheme", maxLength: 5 }),
      fc.string({ unit: "binary-ascii", maxLength: 5 }),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join("").replace(/\0/g, ""));

describe("buildStepScript", () => {
  for (const shell of ["sh", ...(hasBash ? ["bash" as const] : [])] as const) {
    it(`delivers env values byte for byte through ${shell}`, () => {
      fc.assert(
        fc.property(fc.array(value, { minLength: 1, maxLength: 5 }), (values) => {
          const env = Object.fromEntries(values.map((v, i) => [`INPUT_V${i}`, v]));
          const runText = values
            .map((_, i) => `printf '%s' "$INPUT_V${i}" | od -An -tx1 | tr -d ' \\n'; echo`)
            .join("\n");
          const script = buildStepScript({ shell, env, mode: "run", run: runText });
          const r = run(shell, script.text);
          let text = "";
          const trailer = new StepStdout(script.marker, (t) => (text += t));
          trailer.write(r.stdout);
          expect(trailer.end()).toMatchObject({ kind: "ran", exitCode: 0 });
          expect(text.split("\n").slice(0, values.length)).toEqual(
            values.map((v) => Buffer.from(v, "utf8").toString("hex")),
          );
        }),
        { numRuns: 60 },
      );
    });
  }

  it("keeps the step's text verbatim, including lines that look like delimiters or quotes", () => {
    const body = "cat <<'EOF'\n'$(x)' `y` \"z\"\nEOF\necho done";
    const script = buildStepScript({ shell: "sh", env: {}, mode: "run", run: body, nonce: "n1" });
    const r = run("sh", script.text);
    expect(r.stdout.toString()).toBe("'$(x)' `y` \"z\"\ndone\nOPSC-n1 ran 0\n");
  });

  it("does not show the marker to the step, and the step's stdin is empty", () => {
    const script = buildStepScript({
      shell: "sh",
      env: {},
      mode: "run",
      run: "cat; env | grep -c OPSC- || true; echo ok",
    });
    const r = run("sh", script.text);
    const text = r.stdout.toString();
    expect(text.startsWith("0\nok\n")).toBe(true);
  });

  it("reports the step's exit code and runs check before run", () => {
    const skip = buildStepScript({
      shell: "sh",
      env: {},
      mode: "run",
      check: "true",
      run: "echo ran",
      nonce: "n2",
    });
    expect(run("sh", skip.text)).toMatchObject({ status: 0 });
    expect(run("sh", skip.text).stdout.toString()).toBe("OPSC-n2 skip 0\n");
    const fail = buildStepScript({
      shell: "sh",
      env: {},
      mode: "run",
      check: "false",
      run: "exit 7",
      nonce: "n3",
    });
    const r = run("sh", fail.text);
    expect(r.status).toBe(7);
    expect(r.stdout.toString()).toBe("OPSC-n3 ran 7\n");
  });

  it("rejects env names no shell can hold, with the name in the message", () => {
    expect(() => buildStepScript({ shell: "sh", env: { "A B": "x" }, mode: "run", run: "true" })).toThrow(
      /"A B" is not valid/,
    );
    expect(() => buildStepScript({ shell: "sh", env: { A: "x\0y" }, mode: "run", run: "true" })).toThrow(
      OpscError,
    );
  });

  it("puts the sudo password only in script text read from stdin, never on a command line", () => {
    const s = buildStepScript({
      shell: "sh",
      env: {},
      mode: "run",
      run: "id -u",
      sudo: { password: "pw'$(x)" },
      nonce: "n4",
    });
    expect(s.text).toContain(`opsc_pw=${quoteSh("pw'$(x)")}`);
    expect(s.text).toContain(`{ printf '%s\\n' "$opsc_pw"; printf '%s\\n' '#OPSC-SUDO-`);
    expect(s.text).toMatch(/\| sudo -S -p '' -u 'root' -H -- sh -c '[^\n]*' sh "\$opsc_out"\n/);
    expect(() => buildStepScript({ shell: "powershell", env: {}, mode: "run", run: "x", sudo: {} })).toThrow(
      /sudo is not available/,
    );
  });

  it.skipIf(process.getuid?.() !== 0 || spawnSync("sudo", ["-V"]).status !== 0)(
    "never lets the sudo password reach a shell when sudo does not ask for it",
    () => {
      // root is not asked for a password, so the password line stays in the stream.
      const s = buildStepScript({
        shell: "sh",
        env: { V: "value" },
        mode: "run",
        run: 'echo "uid=$(id -u) v=$V"',
        sudo: { password: "echo PWNED" },
        nonce: "n5",
      });
      const r = run("sh", s.text);
      expect(r.stdout.toString()).toBe("uid=0 v=value\nOPSC-n5 ran 0\n");
    },
  );

  it("quotes for PowerShell, including typographic single quotes", () => {
    expect(quotePowerShell("it's")).toBe("'it''s'");
    expect(quotePowerShell("a\u2019b")).toBe("'a\u2019\u2019b'");
    expect(quotePowerShell("$env:X `n")).toBe("'$env:X `n'");
    const ps = buildStepScript({
      shell: "powershell",
      env: { NAME: "O'Brien" },
      mode: "run",
      run: "Write-Output '@'",
    });
    expect(ps.text.split("\n")[0]).toMatch(/ReadToEnd/);
    expect(ps.text).toContain("$env:NAME = 'O''Brien'");
    // User text travels base64-encoded: nothing of it appears raw.
    expect(ps.text).not.toContain("Write-Output");
  });
});
