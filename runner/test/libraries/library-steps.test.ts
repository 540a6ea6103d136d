/**
 * Library steps in the loader (pure): validated like local ones, named
 * `NAME/...`, `uses:` inside a library resolving within it, diagnostics
 * pointing into the library file by name, commit and path; and the checks
 * between opsconductor.yaml and opsconductor.lock.
 */
import { describe, expect, it } from "vitest";
import { loadRepo, type LibrarySet } from "../../src/repo/load-repo.js";
import { planLibraries } from "../../src/repo/library-lock.js";
import { stepsHash } from "../../src/repo/steps-hash.js";

const enc = new TextEncoder();
const COMMIT = "a".repeat(40);
const HASH = `sha256:${"b".repeat(64)}`;

function files(extra: Record<string, string>): { files: Map<string, Uint8Array> } {
  const all: Record<string, string> = {
    "opsconductor.yaml":
      "libraries:\n  std: { url: https://git.example.com/std.git, ref: v1, path: library }\n",
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    ...extra,
  };
  return { files: new Map(Object.entries(all).map(([k, v]) => [k, enc.encode(v)])) };
}

function lockText(entry: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    libraries: {
      std: {
        url: "https://git.example.com/std.git",
        ref: "v1",
        commit: COMMIT,
        path: "library",
        steps_hash: HASH,
        ...entry,
      },
    },
  });
}

function librarySet(steps: Record<string, string>): LibrarySet {
  return {
    diagnostics: [],
    libraries: [
      {
        name: "std",
        url: "https://git.example.com/std.git",
        ref: "v1",
        commit: COMMIT,
        path: "library",
        files: new Map(Object.entries(steps).map(([k, v]) => [k, enc.encode(v)])),
      },
    ],
  };
}

const JOB = "targets: { names: [here] }\nsteps:\n  - uses: std/pkg/install-twice\n    with: { name: curl }\n";

describe("library steps in the loader", () => {
  it("are steps NAME/ID whose own `uses:` name steps of the same library", () => {
    const { model, diagnostics } = loadRepo(
      files({ "opsconductor.lock": lockText(), "jobs/j.yaml": JOB }),
      librarySet({
        "steps/pkg/install.yaml": "inputs: { name: { type: string } }\nrun: echo install $INPUT_NAME\n",
        "steps/pkg/install-twice.yaml":
          "inputs: { name: { type: string } }\nsteps:\n  - uses: pkg/install\n    with: { name: '${{ inputs.name }}' }\n",
      }),
    );
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(model.steps.get("std/pkg/install-twice")?.steps?.[0]?.uses).toBe("std/pkg/install");
    expect(model.libraries?.get("std")).toMatchObject({ commit: COMMIT, path: "library" });
  });

  it("report problems in a library step at the library file, by library name, commit and path", () => {
    const { diagnostics } = loadRepo(
      files({ "opsconductor.lock": lockText(), "jobs/j.yaml": JOB }),
      librarySet({
        "steps/pkg/install-twice.yaml": "inputs: { name: { type: string } }\nsteps:\n  - uses: pkg/nope\n",
      }),
    );
    const d = diagnostics.find((x) => x.code === "ref.unknown-step");
    expect(d).toMatchObject({
      file: `std@${COMMIT.slice(0, 12)}:library/steps/pkg/install-twice.yaml`,
      line: 3,
    });
    expect(d?.message).toContain("std/pkg/nope");
  });

  it("give a job's wrong input to a library step the same error as to a local one", () => {
    const { diagnostics } = loadRepo(
      files({
        "opsconductor.lock": lockText(),
        "jobs/j.yaml":
          "targets: { names: [here] }\nsteps:\n  - uses: std/pkg/install\n    with: { name: 5 }\n",
      }),
      librarySet({ "steps/pkg/install.yaml": "inputs: { name: { type: string } }\nrun: echo $INPUT_NAME\n" }),
    );
    const errors = diagnostics.filter((x) => x.severity === "error");
    expect(errors.map((x) => [x.file, x.code])).toEqual([["jobs/j.yaml", "input.invalid-value"]]);
    // The hint names where the input is declared: the library file, by name, commit and path.
    expect(errors[0]!.hint).toBe(
      `std@${COMMIT.slice(0, 12)}:library/steps/pkg/install.yaml: \`name\` is type string`,
    );
  });
});

describe("opsconductor.yaml against opsconductor.lock", () => {
  it("pins a declared library the lock agrees with", () => {
    const plan = planLibraries(files({ "opsconductor.lock": lockText() }));
    expect(plan.diagnostics).toEqual([]);
    expect(plan.pins).toEqual([expect.objectContaining({ name: "std", commit: COMMIT, stepsHash: HASH })]);
    expect(plan.pins[0]!.at).toMatchObject({ file: "opsconductor.lock" });
  });

  it("says which library is not locked, and how to lock it", () => {
    const plan = planLibraries(files({}));
    expect(plan.pins).toEqual([]);
    expect(plan.diagnostics).toEqual([
      expect.objectContaining({ code: "library.not-locked", file: "opsconductor.yaml", line: 2 }),
    ]);
    expect(plan.diagnostics[0]!.hint).toContain("opsc libraries update std");
  });

  it("refuses a lock the declaration moved away from (a changed ref takes effect only with the lock)", () => {
    const plan = planLibraries(files({ "opsconductor.lock": lockText({ ref: "v0" }) }));
    expect(plan.pins).toEqual([]);
    expect(plan.diagnostics.map((d) => d.code)).toEqual(["library.lock-stale"]);
  });

  it("reports a lock that breaks its schema at the offending field", () => {
    const plan = planLibraries(files({ "opsconductor.lock": lockText({ commit: "v1" }) }));
    expect(plan.pins).toEqual([]);
    expect(plan.diagnostics[0]).toMatchObject({ file: "opsconductor.lock" });
  });
});

describe("the steps hash", () => {
  it("changes with any step's content and not with the order files were read in", () => {
    const a = new Map([
      ["steps/a.yaml", enc.encode("run: a\n")],
      ["steps/b.yaml", enc.encode("run: b\n")],
    ]);
    const reversed = new Map([...a].reverse());
    expect(stepsHash(reversed)).toBe(stepsHash(a));
    expect(stepsHash(new Map([...a, ["steps/b.yaml", enc.encode("run: c\n")]]))).not.toBe(stepsHash(a));
  });
});
