/** Bad configuration-management input is reported by `validate` with file:line:col. */
import { describe, expect, it } from "vitest";
import { loadRepo } from "../../src/repo/load-repo.js";
import { unifiedDiff } from "../../src/core/unified-diff.js";

function load(extra: Record<string, string>) {
  const base: Record<string, string> = {
    "opsconductor.yaml": "name: t\n",
    "targets/web.yaml":
      "targets:\n  web-1: { transport: local, labels: { role: web }, vars: { port: 80 } }\n",
    "files/app.conf": "port={{ vars.port }}\n",
  };
  const enc = new TextEncoder();
  const all = { ...base, ...extra };
  return loadRepo({ files: new Map(Object.entries(all).map(([k, v]) => [k, enc.encode(v)])) }).diagnostics;
}

const job = (step: string, more = "") =>
  `targets: { match: { role: web } }\nsteps:\n  - id: conf\n${step}${more}`;

describe("configuration validation", () => {
  it("a copy whose src is missing", () => {
    const d = load({ "jobs/j.yaml": job("    copy: { src: files/nginx.conf, dest: /etc/x }\n") });
    expect(d).toContainEqual(
      expect.objectContaining({
        file: "jobs/j.yaml",
        line: 4,
        col: 18,
        code: "copy.missing-src",
        severity: "error",
      }),
    );
  });

  it("a template reading an unknown variable, at the template's line and column", () => {
    const d = load({
      "files/app.conf": "port={{ vars.port }}\n\nname={{ vars.nmae }}\nx={{ nope.y }}\n",
      "jobs/j.yaml": job("    copy: { src: files/app.conf, dest: /etc/x, template: true }\n"),
    });
    const errors = d.filter((x) => x.code === "template.unknown-variable");
    expect(errors).toEqual([
      expect.objectContaining({ file: "files/app.conf", line: 3, col: 9, severity: "error" }),
      expect.objectContaining({ file: "files/app.conf", line: 4, col: 6, severity: "error" }),
    ]);
    expect(errors[0]!.message).toContain("vars.nmae");
  });

  it("a vars/ file whose match uses a label no target has is a warning", () => {
    const d = load({ "vars/web.yaml": "match:\n  rol: web\nvars:\n  port: 8080\n" });
    expect(d).toContainEqual(
      expect.objectContaining({
        file: "vars/web.yaml",
        line: 2,
        col: 3,
        code: "vars.unknown-label",
        severity: "warning",
      }),
    );
  });

  it("notify naming a handler that does not exist", () => {
    const d = load({
      "jobs/j.yaml": job(
        "    run: echo hi\n    notify: [restart-ngnix]\n",
        "handlers:\n  - id: restart-nginx\n    run: echo restart\n",
      ),
    });
    expect(d).toContainEqual(
      expect.objectContaining({
        file: "jobs/j.yaml",
        line: 5,
        col: 14,
        code: "handler.unknown",
        severity: "error",
      }),
    );
    expect(d.find((x) => x.code === "handler.unknown")!.hint).toContain("restart-nginx");
  });

  it("a valid repository with vars, copy, handlers and tags has no errors", () => {
    const d = load({
      "vars/all.yaml": "vars:\n  port: 1\n",
      "jobs/j.yaml": job(
        "    copy: { src: files/app.conf, dest: /etc/x, template: true }\n    tags: [conf]\n    notify: [reload]\n",
        "handlers:\n  - id: reload\n    run: echo reload\n",
      ),
    });
    expect(d.filter((x) => x.severity === "error")).toEqual([]);
  });
});

describe("unified diff", () => {
  it("shows changed lines with context and hunk headers", () => {
    const a = "a\nb\nc\nd\ne\nf\ng\nh\n";
    const b = "a\nb\nc\nD\ne\nf\ng\nh\ni\n";
    expect(unifiedDiff(a, b, "old", "new")).toBe(
      "--- old\n+++ new\n@@ -1,8 +1,9 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n+i\n",
    );
    expect(unifiedDiff(a, a, "x", "y")).toBe("");
    expect(unifiedDiff("", "x\n", "/dev/null", "f")).toBe("--- /dev/null\n+++ f\n@@ -0,0 +1,1 @@\n+x\n");
  });
});
