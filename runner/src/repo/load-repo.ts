/**
 * Loads an automation repository: parses every file keeping positions,
 * validates each against its JSON Schema, builds the RepoModel and runs the
 * checks beyond the schema. Pure: the same files give the same model and
 * diagnostics whether they came from a folder or a Git commit. It never throws
 * for a user's mistake; everything becomes a diagnostic.
 */
import { errorText } from "../core/error-text.js";
import { compareDiagnostics, type Diagnostic } from "../core/diagnostic.js";
import type { LibraryRef, RepoModel, VarsFile } from "../core/repo-model.js";
import {
  buildAccess,
  buildJob,
  buildSettings,
  buildStep,
  buildTarget,
  buildVarsFile,
  at,
} from "./build-model.js";
import { checkAccess } from "./checks/check-access.js";
import { checkConfiguration } from "./checks/check-configuration.js";
import { checkCycles } from "./checks/check-cycles.js";
import { checkExpressions } from "./checks/check-expressions.js";
import { checkInputs } from "./checks/check-inputs.js";
import { checkApprovals } from "./checks/check-approvals.js";
import { checkLayout, classifyPath } from "./checks/check-layout.js";
import { checkReferences } from "./checks/check-references.js";
import { checkSchedules } from "./checks/check-schedules.js";
import { checkSelectors } from "./checks/check-selectors.js";
import { credentialFileOf, isSopsEncrypted } from "./credential-keys.js";
import { partialJob, partialStep } from "./partial.js";
import type {
  RawAccess,
  RawJob,
  RawSettings,
  RawStep,
  RawTarget,
  RawTargetsFile,
  RawVarsFile,
} from "./raw-types.js";
import { libraryFileLabel } from "./library-lock.js";
import type { RepoFiles } from "./repo-files.js";
import { RepoIndex } from "./repo-index.js";
import { schemaDiagnostics } from "./schema-diagnostics.js";
import { validateKind } from "./schemas.js";
import { YamlSource } from "./yaml-source.js";

export interface LoadResult {
  model: RepoModel;
  diagnostics: Diagnostic[];
  /** Parsed files by path, for showing the offending line of a diagnostic. */
  sources: ReadonlyMap<string, YamlSource>;
}

export const SETTINGS_FILE = "opsconductor.yaml";
export const ACCESS_FILE = "access.yaml";

/** A library's files at its locked commit, already read and checked against the lock (libraries/). */
export interface LoadedLibrary extends LibraryRef {
  /** Paths relative to the library's `path` (`steps/apt/install.yaml`) -> content. */
  files: ReadonlyMap<string, Uint8Array>;
}

/** What the library reader found: the libraries it could load and the problems with the others. */
export interface LibrarySet {
  libraries: LoadedLibrary[];
  diagnostics: Diagnostic[];
  /** Declared libraries that could not be loaded: the reason is in `diagnostics`. */
  unavailable?: string[];
}

export function loadRepo(files: RepoFiles, libraries?: LibrarySet): LoadResult {
  const model: RepoModel = {
    settings: buildSettings(undefined, { file: SETTINGS_FILE, line: 1, col: 1 }),
    targets: new Map(),
    steps: new Map(),
    jobs: new Map(),
    credentials: new Map(),
    vars: [],
    files: new Set(),
  };
  const index = new RepoIndex(model, files.files.keys());
  try {
    load(index, files, libraries);
  } catch (e) {
    // A bug must not hide the user's diagnostics found so far, nor crash `validate`.
    index.reportFile(
      SETTINGS_FILE,
      "error",
      "internal.bug",
      `OpsConductor failed while checking this repository: ${errorText(e)}`,
      "this is a bug in OpsConductor; please report it with the repository that triggers it",
    );
  }
  const diagnostics = index.diagnostics.sort(compareDiagnostics);
  return { model, diagnostics, sources: index.sources };
}

function parse(index: RepoIndex, path: string, bytes: Uint8Array): YamlSource {
  const source = new YamlSource(path, bytes);
  index.sources.set(path, source);
  index.diagnostics.push(...source.diagnostics);
  return source;
}

function schemaValid(
  index: RepoIndex,
  source: YamlSource,
  kind: "settings" | "targets" | "step" | "job" | "access" | "vars",
): boolean {
  if (!source.ok) return false;
  const errors = validateKind(kind, source.value);
  if (errors.length === 0) return true;
  index.diagnostics.push(...schemaDiagnostics(source, errors));
  return false;
}

function load(index: RepoIndex, files: RepoFiles, libraries: LibrarySet | undefined): void {
  const { model } = index;
  const byKind = {
    targets: [] as string[],
    credential: [] as string[],
    step: [] as string[],
    job: [] as string[],
    vars: [] as string[],
  };
  const repoFiles = new Set<string>();
  model.files = repoFiles;
  const varsFiles: VarsFile[] = [];
  model.vars = varsFiles;
  for (const path of files.files.keys()) {
    const c = classifyPath(path);
    if (
      c.kind === "targets" ||
      c.kind === "credential" ||
      c.kind === "step" ||
      c.kind === "job" ||
      c.kind === "vars"
    )
      byKind[c.kind].push(path);
    if (c.kind === "file") repoFiles.add(path);
  }

  const settingsBytes = files.files.get(SETTINGS_FILE);
  if (settingsBytes === undefined) {
    index.reportFile(
      SETTINGS_FILE,
      "error",
      "repo.no-settings",
      "opsconductor.yaml is missing",
      "create it at the repository's root (an empty file is enough), or run `opsc init`",
    );
  } else {
    const source = parse(index, SETTINGS_FILE, settingsBytes);
    if (schemaValid(index, source, "settings")) {
      model.settings = buildSettings(source.value as RawSettings | null, {
        file: SETTINGS_FILE,
        line: 1,
        col: 1,
      });
    }
  }

  for (const path of byKind.targets) {
    const source = parse(index, path, files.files.get(path)!);
    const valid = schemaValid(index, source, "targets");
    const value = source.value as RawTargetsFile | undefined;
    if (!valid) {
      index.brokenTargetFiles.push(path);
      const names =
        value && typeof value === "object" && value.targets && typeof value.targets === "object"
          ? Object.keys(value.targets)
          : [];
      for (const name of names) {
        index.brokenTargets.add(name);
        index.brokenTargetSites.push({ id: name, source, path: ["targets", name] });
      }
      continue;
    }
    index.targetFiles.push({ id: path, source, path: [], raw: value! });
    for (const [id, own] of Object.entries(value!.targets)) {
      const entry = {
        id,
        source,
        path: ["targets", id],
        raw: { ...(value!.defaults ?? {}), ...(own ?? {}) } as RawTarget,
      };
      const list = index.targets.get(id) ?? [];
      list.push(entry);
      index.targets.set(id, list);
      if (list.length === 1) {
        model.targets.set(
          id,
          buildTarget(
            id,
            own ?? {},
            value!.defaults ?? {},
            model.settings,
            at(source, ["targets", id], "key"),
          ),
        );
      }
    }
  }

  for (const path of byKind.credential) {
    const c = classifyPath(path);
    if (c.kind !== "credential") continue;
    const source = parse(index, path, files.files.get(path)!);
    if (!source.ok) {
      index.brokenCredentials.add(c.id);
      continue;
    }
    if (!isSopsEncrypted(source.value)) {
      index.report(
        source,
        [],
        "error",
        "credential.not-encrypted",
        "this credentials file is not encrypted with SOPS (it has no `sops` metadata)",
        `secrets must never be committed in clear: encrypt it with \`opsc secrets encrypt ${path}\` (or sops), and rotate any value that was pushed`,
      );
    }
    model.credentials.set(c.id, credentialFileOf(c.id, c.format, source));
  }

  for (const path of byKind.step) {
    const c = classifyPath(path);
    if (c.kind !== "step") continue;
    const source = parse(index, path, files.files.get(path)!);
    if (!schemaValid(index, source, "step")) {
      index.brokenSteps.add(c.id);
      const partial = source.ok ? partialStep(source.value) : undefined;
      if (partial) index.steps.set(c.id, { id: c.id, source, path: [], raw: partial, partial: true });
      continue;
    }
    const raw = source.value as RawStep;
    index.steps.set(c.id, { id: c.id, source, path: [], raw });
    model.steps.set(c.id, buildStep(c.id, raw, source));
  }

  if (libraries) loadLibraries(index, libraries);

  for (const path of byKind.job) {
    const c = classifyPath(path);
    if (c.kind !== "job") continue;
    const source = parse(index, path, files.files.get(path)!);
    if (!schemaValid(index, source, "job")) {
      const partial = source.ok ? partialJob(source.value) : undefined;
      if (partial) index.jobs.set(c.id, { id: c.id, source, path: [], raw: partial, partial: true });
      continue;
    }
    const raw = source.value as RawJob;
    index.jobs.set(c.id, { id: c.id, source, path: [], raw });
    model.jobs.set(c.id, buildJob(c.id, raw, source, model.settings));
  }

  const accessBytes = files.files.get(ACCESS_FILE);
  if (accessBytes !== undefined) {
    const source = parse(index, ACCESS_FILE, accessBytes);
    if (schemaValid(index, source, "access")) {
      const raw = source.value as RawAccess;
      index.access = { id: ACCESS_FILE, source, path: [], raw };
      model.access = buildAccess(raw, source);
    }
  }

  // Name order is the documented merge order.
  for (const path of [...byKind.vars].sort()) {
    const source = parse(index, path, files.files.get(path)!);
    if (!schemaValid(index, source, "vars")) continue;
    const file = buildVarsFile(source.value as RawVarsFile, source);
    varsFiles.push(file);
    index.varsFiles.push({ id: path, source, path: [], raw: source.value as RawVarsFile });
  }

  checkLayout(index);
  checkReferences(index);
  checkCycles(index);
  checkExpressions(index);
  checkInputs(index);
  checkSchedules(index);
  checkSelectors(index);
  checkAccess(index);
  checkConfiguration(index, files);
  checkApprovals(index, files);
}

/**
 * Library steps become steps `NAME/ID`, validated like local ones; their
 * diagnostics carry the library's name, commit and path. Inside a library,
 * `uses:` names the library's own steps, so it reads the same in its own
 * repository as it does here.
 */
function loadLibraries(index: RepoIndex, set: LibrarySet): void {
  const { model } = index;
  index.diagnostics.push(...set.diagnostics);
  for (const name of set.unavailable ?? []) index.brokenLibraries.add(name);
  model.libraries = new Map();
  for (const lib of set.libraries) {
    const { files, ...ref } = lib;
    model.libraries.set(lib.name, ref);
    for (const localId of model.steps.keys()) {
      if (!localId.startsWith(`${lib.name}/`)) continue;
      index.reportFile(
        `steps/${localId}.yaml`,
        "error",
        "library.shadowed",
        `step "${localId}" is in the name space of library "${lib.name}"`,
        `rename steps/${lib.name}/ (or the library) so local steps and library steps cannot be confused`,
      );
    }
    for (const [rel, bytes] of files) {
      const m = /^steps\/(.+)\.yaml$/.exec(rel);
      if (!m) continue;
      const id = `${lib.name}/${m[1]!}`;
      const source = parse(index, libraryFileLabel(lib.name, lib.commit, lib.path, rel), bytes);
      if (!schemaValid(index, source, "step")) {
        index.brokenSteps.add(id);
        continue;
      }
      const own = source.value as RawStep;
      const raw: RawStep = own.steps
        ? {
            ...own,
            steps: own.steps.map((s) => (s?.uses ? { ...s, uses: `${lib.name}/${s.uses}` } : s)),
          }
        : own;
      index.steps.set(id, { id, source, path: [], raw });
      model.steps.set(id, buildStep(id, raw, source));
    }
  }
}
