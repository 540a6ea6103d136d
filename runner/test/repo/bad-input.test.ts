/** Hostile or broken files become diagnostics with positions; the loader never throws. */
import { describe, expect, it } from "vitest";
import { MAX_STEP_DEPTH } from "../../src/core/repo-model.js";
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

  it("input names an expression cannot read, or that hide one another", () => {
    const { diagnostics } = load({
      "jobs/j.yaml":
        "inputs:\n  toString: { type: string }\n  __proto__: { type: string }\n  a_b: { type: string }\n  A_B: { type: string }\nsteps: [{ run: x }]\n",
    });
    expect(diagnostics.map(brief)).toEqual([
      "jobs/j.yaml:2:3 input.reserved-name",
      "jobs/j.yaml:3:3 input.reserved-name",
      "jobs/j.yaml:5:3 input.name-collision",
    ]);
    expect(diagnostics[2]!.message).toContain("`a_b` and `A_B` both reach scripts as INPUT_A_B");
  });

  it("a composite chain deeper than the planner follows", () => {
    const files: Record<string, string> = { "jobs/j.yaml": "steps: [{ uses: c0 }]\n" };
    for (let i = 0; i < MAX_STEP_DEPTH; i++) files[`steps/c${i}.yaml`] = `steps:\n  - uses: c${i + 1}\n`;
    files[`steps/c${MAX_STEP_DEPTH}.yaml`] = "run: echo deep\n";
    const { diagnostics } = load(files);
    expect(diagnostics.map(brief)).toEqual([`steps/c0.yaml:2:11 step.composite-too-deep`]);

    delete files["steps/c0.yaml"];
    files["jobs/j.yaml"] = "steps: [{ uses: c1 }]\n";
    expect(load(files).diagnostics).toEqual([]);
  });

  it("a host with a control, invisible or format character", () => {
    for (const host of ["web\\0x", "web\\u200bx", "web\\u202ex", "web\\x7fx"]) {
      const { diagnostics } = load({ "targets/more.yaml": `targets:\n  odd: { host: "${host}" }\n` });
      expect(diagnostics.map(brief), host).toEqual(["targets/more.yaml:2:16 schema.pattern"]);
    }
    expect(
      load({ "targets/more.yaml": 'targets:\n  ok: { host: "web-1.example.com" }\n' }).diagnostics,
    ).toEqual([expect.objectContaining({ code: "target.no-host-key" })]);
  });

  it("a target defined twice, also when one of the files has a schema error", () => {
    const { diagnostics } = load({
      "targets/more.yaml": 'targets:\n  web-1: { host: 10.0.0.9, port: "many" }\n',
    });
    expect(diagnostics.map(brief).sort()).toEqual([
      "targets/more.yaml:2:3 target.duplicate-id",
      "targets/more.yaml:2:34 schema.type",
    ]);
  });

  it("the missing host key hint names commands that exist", () => {
    const { diagnostics } = load({ "targets/more.yaml": "targets:\n  web-9: { host: 10.0.0.9 }\n" });
    const d = diagnostics.find((x) => x.code === "target.no-host-key");
    expect(d?.hint).toContain("opsc discover HOST --json");
    expect(d?.hint).not.toContain("--pin");
  });
});
