/** Hostile or broken files become diagnostics with positions; the loader never throws. */
import { describe, expect, it } from "vitest";
import { MAX_FILE_BYTES } from "../../src/repo/repo-files.js";
import { brief, load } from "./helpers.js";

describe("bad input", () => {
  it("YAML syntax errors", () => {
    const { diagnostics, model } = load({ "jobs/j.yaml": "steps:\n  - run: [unclosed\n" });
    expect(diagnostics.map(brief)).toContain("jobs/j.yaml:3:1 yaml.syntax");
    expect(model.jobs.has("j")).toBe(false);
  });

  it("a tab where indentation is expected", () => {
    const { diagnostics } = load({ "jobs/j.yaml": "steps:\n\t- run: x\n" });
    expect(diagnostics.find((d) => d.file === "jobs/j.yaml")).toMatchObject({
      line: 2,
      code: "yaml.syntax",
      severity: "error",
    });
  });

  it("duplicate keys, at the second key", () => {
    const { diagnostics } = load({ "jobs/j.yaml": "description: a\nsteps: [{ run: x }]\ndescription: b\n" });
    expect(diagnostics.map(brief)).toEqual(["jobs/j.yaml:3:1 yaml.duplicate-key"]);
  });

  it("several documents in one file", () => {
    const { diagnostics } = load({ "jobs/j.yaml": "steps: [{ run: x }]\n---\nsteps: [{ run: y }]\n" });
    expect(diagnostics.map(brief)).toEqual(["jobs/j.yaml:2:1 yaml.multiple-documents"]);
  });

  it("an alias bomb (billion laughs)", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]",
    ].join("\n");
    const started = Date.now();
    const { diagnostics } = load({ "jobs/j.yaml": bomb });
    expect(Date.now() - started).toBeLessThan(5000);
    // At the alias that pushes the expansion past the limit.
    expect(diagnostics.map(brief)).toEqual(["jobs/j.yaml:4:36 yaml.alias-limit"]);
  });

  it("a merge key whose value is not a mapping, at the merge key", () => {
    const { diagnostics } = load({
      "jobs/j.yaml": 'steps: [{ run: x }]\ndescription: x\nx: { <<: "text" }\n',
    });
    expect(diagnostics.map(brief)).toEqual(["jobs/j.yaml:3:6 yaml.syntax"]);
  });

  it("a file above the size limit", () => {
    const big = `description: "${"x".repeat(MAX_FILE_BYTES)}"\nsteps: [{ run: x }]\n`;
    const { diagnostics } = load({ "jobs/j.yaml": big });
    expect(diagnostics.map(brief)).toEqual(["jobs/j.yaml:1:1 file.too-large"]);
  });

  it("binary content, at the NUL byte", () => {
    const bytes = new Uint8Array([0x61, 0x3a, 0x20, 0x31, 0x0a, 0x62, 0x00, 0xff]);
    const { diagnostics } = load({ "steps/s.yaml": bytes });
    expect(diagnostics.map(brief)).toEqual(["steps/s.yaml:2:2 file.binary"]);
  });

  it("invalid UTF-8, at the bad byte", () => {
    const text = new TextEncoder().encode("run: echo ok\ndescription: caf");
    const bytes = new Uint8Array([...text, 0xc3, 0x28, 0x0a]);
    const { diagnostics } = load({ "steps/s.yaml": bytes });
    expect(diagnostics.map(brief)).toEqual(["steps/s.yaml:2:17 file.encoding"]);
  });

  it("an empty job file is a schema error, not a crash", () => {
    const { diagnostics } = load({ "jobs/j.yaml": "" });
    expect(diagnostics.map(brief)).toEqual(["jobs/j.yaml:1:1 schema.type"]);
  });

  it("an empty opsconductor.yaml is valid", () => {
    expect(load({ "opsconductor.yaml": "" }).diagnostics).toEqual([]);
  });

  it("unknown tags are reported, not executed", () => {
    const { diagnostics } = load({ "jobs/j.yaml": "description: !!js/function 'x'\nsteps: [{ run: x }]\n" });
    expect(diagnostics.find((d) => d.file === "jobs/j.yaml")).toMatchObject({
      line: 1,
      col: 14,
      code: "yaml.warning",
    });
  });

  it("a broken step file does not make its users report an unknown step", () => {
    const { diagnostics } = load({ "steps/pkg.yaml": "run: [\n" });
    expect(diagnostics.every((d) => d.file === "steps/pkg.yaml")).toBe(true);
  });

  it("never shows credential file content in messages", () => {
    const { diagnostics } = load({ "credentials/prod.sops.yaml": "password: hunter2\npassword: hunter3\n" });
    for (const d of diagnostics) expect(`${d.message} ${d.hint ?? ""}`).not.toMatch(/hunter/);
  });
});
