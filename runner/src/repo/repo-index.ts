/**
 * What the loader knows while checking: every parsed file, the schema-valid raw
 * entries with where they are, and the model built so far. Checks read it and
 * report through it; nothing here does I/O.
 */
import type { Diagnostic, Severity } from "../core/diagnostic.js";
import type { RepoModel } from "../core/repo-model.js";
import type {
  RawAccess,
  RawInputs,
  RawJob,
  RawStep,
  RawStepUse,
  RawTarget,
  RawTargetsFile,
  RawVarsFile,
} from "./raw-types.js";
import type { NodePath, YamlSource } from "./yaml-source.js";

export interface Entry<T> {
  id: string;
  source: YamlSource;
  /** Path of the entry inside its file ([] for a whole file). */
  path: NodePath;
  raw: T;
  /** Only the parts that passed the schema on their own (see partial.ts); not in the model. */
  partial?: boolean;
}

/** One step as written in a job phase or a composite library step. */
export interface StepUseSite {
  source: YamlSource;
  path: NodePath;
  raw: RawStepUse;
  /** The step's id after defaults. */
  id: string;
  owner: { kind: "job"; id: string; phase: number } | { kind: "step"; id: string };
  /** Inputs `${{ inputs.X }}` can read here: the job's or the composite step's. */
  inputs: RawInputs;
  /** Step ids defined before this one in the same phase or composite. */
  earlier: ReadonlySet<string>;
}

export class RepoIndex {
  readonly diagnostics: Diagnostic[] = [];
  readonly sources = new Map<string, YamlSource>();
  readonly targets = new Map<string, Array<Entry<RawTarget>>>();
  readonly steps = new Map<string, Entry<RawStep>>();
  readonly jobs = new Map<string, Entry<RawJob>>();
  readonly targetFiles: Array<Entry<RawTargetsFile>> = [];
  /** access.yaml, when it passed its schema. */
  access?: Entry<RawAccess>;
  /** Schema-valid vars/*.yaml files, in name order. */
  readonly varsFiles: Array<Entry<RawVarsFile>> = [];
  /** Ids defined in files that did not parse or broke their schema: references to them are not reported. */
  readonly brokenSteps = new Set<string>();
  readonly brokenTargets = new Set<string>();
  /** Where schema-invalid targets files name each target, so a duplicate id is still reported. */
  readonly brokenTargetSites: Array<{ id: string; source: YamlSource; path: NodePath }> = [];
  readonly brokenTargetFiles: string[] = [];
  readonly brokenCredentials = new Set<string>();
  /** Declared libraries that could not be loaded (already reported): `uses:` into them is not reported again. */
  readonly brokenLibraries = new Set<string>();
  /** Every path the repository holds (including files no schema covers). */
  readonly paths: string[];

  constructor(
    readonly model: RepoModel,
    paths: Iterable<string>,
  ) {
    this.paths = [...paths];
  }

  report(
    source: YamlSource,
    path: NodePath,
    severity: Severity,
    code: string,
    message: string,
    hint?: string,
    options: { where?: "key" | "value"; offset?: number } = {},
  ): void {
    const pos = source.position(path, options.where ?? "value", options.offset);
    this.diagnostics.push({
      file: source.file,
      line: pos.line,
      col: pos.col,
      severity,
      code,
      message,
      ...(hint ? { hint } : {}),
    });
  }

  reportFile(file: string, severity: Severity, code: string, message: string, hint?: string): void {
    this.diagnostics.push({ file, line: 1, col: 1, severity, code, message, ...(hint ? { hint } : {}) });
  }

  /** Every step use in jobs and composite steps, with what it can see. */
  *stepUses(): Generator<StepUseSite> {
    for (const job of this.jobs.values()) {
      const inputs = job.raw.inputs ?? {};
      const lists: Array<{ steps: RawStepUse[]; base: NodePath; phase: number }> = job.raw.phases
        ? job.raw.phases.map((p, i) => ({ steps: p?.steps ?? [], base: ["phases", i, "steps"], phase: i }))
        : [{ steps: job.raw.steps ?? [], base: ["steps"], phase: 0 }];
      // Handlers run after a phase's steps: they see every step, and their ids are unique among themselves.
      if (Array.isArray(job.raw.handlers))
        lists.push({ steps: job.raw.handlers, base: ["handlers"], phase: lists.length });
      // Steps of earlier phases stay readable on the same target.
      const earlier = new Set<string>();
      for (const list of lists) {
        for (const [i, raw] of list.steps.entries()) {
          // Holes are steps of a schema-invalid file that broke their schema.
          if (!raw) continue;
          const id = raw.id ?? `step-${i + 1}`;
          yield {
            source: job.source,
            path: [...list.base, i],
            raw,
            id,
            owner: { kind: "job", id: job.id, phase: list.phase },
            inputs,
            earlier: new Set(earlier),
          };
          earlier.add(id);
        }
      }
    }
    for (const step of this.steps.values()) {
      const earlier = new Set<string>();
      for (const [i, raw] of (step.raw.steps ?? []).entries()) {
        if (!raw) continue;
        const id = raw.id ?? `step-${i + 1}`;
        yield {
          source: step.source,
          path: ["steps", i],
          raw,
          id,
          owner: { kind: "step", id: step.id },
          inputs: step.raw.inputs ?? {},
          earlier: new Set(earlier),
        };
        earlier.add(id);
      }
    }
  }

  /** Whether a library step is known and fully valid (its inputs can be trusted). */
  stepIsValid(id: string): boolean {
    return this.model.steps.has(id);
  }

  stepExists(id: string): boolean {
    const slash = id.indexOf("/");
    return (
      this.model.steps.has(id) ||
      this.brokenSteps.has(id) ||
      (slash > 0 && this.brokenLibraries.has(id.slice(0, slash)))
    );
  }

  targetExists(id: string): boolean {
    return this.model.targets.has(id) || this.brokenTargets.has(id);
  }
}
