/**
 * Which step libraries a repository declares (opsconductor.yaml `libraries`)
 * and what opsconductor.lock pins them to. Pure: it reads the two files from
 * RepoFiles and says, with positions, what is wrong between them; fetching
 * the pinned commits is the caller's business (libraries/).
 */
import type { Diagnostic } from "../core/diagnostic.js";
import type { SourcePosition } from "../core/errors.js";
import type { RepoFiles } from "./repo-files.js";
import { schemaDiagnostics } from "./schema-diagnostics.js";
import { validateKind } from "./schemas.js";
import { YamlSource } from "./yaml-source.js";

export const LOCK_FILE = "opsconductor.lock";
const SETTINGS_FILE = "opsconductor.yaml";

/** A library as opsconductor.yaml declares it. */
export interface LibraryDecl {
  name: string;
  url: string;
  ref: string;
  /** Folder holding `steps/` inside the library's repository; "" for its root. */
  path: string;
  credential?: string;
}

/** One library in opsconductor.lock. */
export interface LockEntry {
  url: string;
  ref: string;
  commit: string;
  path: string;
  steps_hash: string;
  committed_at?: string;
}

export interface LockFile {
  version: 1;
  libraries: Record<string, LockEntry>;
}

/** A declared library with the commit and hash the lock pins: what may be loaded. */
export interface LibraryPin extends LibraryDecl {
  commit: string;
  stepsHash: string;
  /** Where the lock pins it, for diagnostics about the pinned commit. */
  at: SourcePosition;
}

export interface LibraryPlan {
  declared: LibraryDecl[];
  lock: LockFile | undefined;
  /** opsconductor.yaml or opsconductor.lock does not parse or breaks its schema (the loader reports how). */
  broken: boolean;
  /** Declared libraries the lock pins consistently with the declaration. */
  pins: LibraryPin[];
  diagnostics: Diagnostic[];
}

/** Normalises `path` the way both sides write it: no leading `./`, no trailing `/`. */
export function normalLibraryPath(path: string | undefined): string {
  return (path ?? "")
    .replace(/^\.\/+/, "")
    .replace(/\/+$/, "")
    .replace(/^\.$/, "");
}

function diagnostic(
  source: YamlSource,
  path: Array<string | number>,
  code: string,
  message: string,
  hint: string,
  severity: "error" | "warning" = "error",
): Diagnostic {
  const pos = source.position(path, "key");
  return { file: source.file, line: pos.line, col: pos.col, severity, code, message, hint };
}

export function planLibraries(files: RepoFiles): LibraryPlan {
  const out: LibraryPlan = { declared: [], lock: undefined, broken: false, pins: [], diagnostics: [] };
  const settingsBytes = files.files.get(SETTINGS_FILE);
  // A broken opsconductor.yaml is reported by the loader; here it just declares nothing.
  const settings = settingsBytes ? new YamlSource(SETTINGS_FILE, settingsBytes) : undefined;
  const settingsOk = settings?.ok === true && validateKind("settings", settings.value).length === 0;
  if (settings && !settingsOk) out.broken = true;
  const raw = settingsOk
    ? ((settings.value as { libraries?: Record<string, Omit<LibraryDecl, "name">> } | null)?.libraries ?? {})
    : {};
  out.declared = Object.entries(raw).map(([name, d]) => ({
    name,
    url: d.url,
    ref: d.ref,
    path: normalLibraryPath(d.path),
    ...(d.credential !== undefined ? { credential: d.credential } : {}),
  }));

  const lockBytes = files.files.get(LOCK_FILE);
  let lockSource: YamlSource | undefined;
  if (lockBytes) {
    lockSource = new YamlSource(LOCK_FILE, lockBytes);
    out.diagnostics.push(...lockSource.diagnostics);
    if (lockSource.ok) {
      const errors = validateKind("lock", lockSource.value);
      if (errors.length === 0) out.lock = lockSource.value as LockFile;
      else out.diagnostics.push(...schemaDiagnostics(lockSource, errors));
    }
  }
  if (lockBytes && !out.lock) {
    out.broken = true;
    return out;
  }

  for (const decl of out.declared) {
    const entry = out.lock?.libraries[decl.name];
    const at = ["libraries", decl.name];
    if (!entry) {
      out.diagnostics.push(
        diagnostic(
          settings!,
          at,
          "library.not-locked",
          `library "${decl.name}" is not pinned in ${LOCK_FILE}, so none of its steps can be used`,
          `run \`opsc libraries update ${decl.name}\` to pin ${decl.ref}, review the lock and commit it`,
        ),
      );
      continue;
    }
    const changed = (["url", "ref"] as const).filter((k) => entry[k] !== decl[k]);
    if (normalLibraryPath(entry.path) !== decl.path) changed.push("path" as "url");
    if (changed.length > 0) {
      out.diagnostics.push(
        diagnostic(
          settings!,
          at,
          "library.lock-stale",
          `library "${decl.name}": ${changed.join(", ")} in opsconductor.yaml differ from ${LOCK_FILE} (it still pins ${entry.ref} at ${entry.commit.slice(0, 12)})`,
          `run \`opsc libraries update ${decl.name}\` so the lock follows the declaration, review the diff and commit both`,
        ),
      );
      continue;
    }
    const pos = lockSource!.position(["libraries", decl.name, "commit"]);
    out.pins.push({
      ...decl,
      commit: entry.commit,
      stepsHash: entry.steps_hash,
      at: { file: LOCK_FILE, line: pos.line, col: pos.col },
    });
  }
  const declaredNames = new Set(out.declared.map((d) => d.name));
  for (const name of Object.keys(out.lock?.libraries ?? {})) {
    if (declaredNames.has(name)) continue;
    out.diagnostics.push(
      diagnostic(
        lockSource!,
        ["libraries", name],
        "library.lock-unused",
        `${LOCK_FILE} pins library "${name}", which opsconductor.yaml does not declare`,
        `remove it with \`opsc libraries update\`, or declare it under \`libraries:\` in opsconductor.yaml`,
        "warning",
      ),
    );
  }
  return out;
}

/** The lock as written to disk: stable key order, so an update diffs only what changed. */
export function renderLock(lock: LockFile): string {
  const libraries: Record<string, LockEntry> = {};
  for (const name of Object.keys(lock.libraries).sort()) {
    const e = lock.libraries[name]!;
    libraries[name] = {
      url: e.url,
      ref: e.ref,
      commit: e.commit,
      path: e.path,
      steps_hash: e.steps_hash,
      ...(e.committed_at !== undefined ? { committed_at: e.committed_at } : {}),
    };
  }
  return `${JSON.stringify({ version: 1, libraries }, null, 2)}\n`;
}

/** The file name a library step's diagnostics carry: library name, commit and path in the library. */
export function libraryFileLabel(name: string, commit: string, path: string, rel: string): string {
  return `${name}@${commit.slice(0, 12)}:${path ? `${path}/` : ""}${rel}`;
}
