/**
 * The folder is the kind (DESIGN.md 1). Files where no kind is expected are
 * reported as warnings, and file names that make invalid ids as errors.
 */
import type { RepoIndex } from "../repo-index.js";
import { isSignersPath } from "../repo-files.js";

export type PathClass =
  | { kind: "settings" | "sops-config" | "access" | "lock" | "signers" }
  | { kind: "targets"; id: string }
  | { kind: "credential"; id: string; format: "yaml" | "json" }
  | { kind: "step" | "job"; id: string }
  | { kind: "vars"; id: string }
  | { kind: "file" }
  | { kind: "unknown"; hint: string };

const ID = /^(?!.*\.\.)[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

export function classifyPath(path: string): PathClass {
  if (path === "opsconductor.yaml") return { kind: "settings" };
  if (path === ".sops.yaml") return { kind: "sops-config" };
  if (path === "access.yaml") return { kind: "access" };
  if (path === "opsconductor.lock") return { kind: "lock" };
  if (isSignersPath(path)) return { kind: "signers" };
  let m = /^targets\/([^/]+)\.yaml$/.exec(path);
  if (m) return { kind: "targets", id: m[1]! };
  m = /^credentials\/(.+)\.sops\.(yaml|json)$/.exec(path);
  if (m) return { kind: "credential", id: m[1]!, format: m[2] as "yaml" | "json" };
  m = /^vars\/([^/]+)\.yaml$/.exec(path);
  if (m) return { kind: "vars", id: m[1]! };
  if (path.startsWith("files/")) return { kind: "file" };
  m = /^(steps|jobs)\/(.+)\.yaml$/.exec(path);
  if (m) return { kind: m[1] === "steps" ? "step" : "job", id: m[2]! };
  return { kind: "unknown", hint: hintFor(path) };
}

function hintFor(path: string): string {
  if (/\.yml$/.test(path))
    return `rename it to ${path.replace(/\.yml$/, ".yaml")}; only .yaml files are read`;
  if (path === "opsconductor.yml") return "rename it to opsconductor.yaml";
  if (path.startsWith("targets/")) return "targets files are targets/NAME.yaml, directly in targets/";
  if (path.startsWith("credentials/"))
    return "credential files are credentials/NAME.sops.yaml (or .sops.json), encrypted with sops";
  if (path.startsWith("steps/")) return "library steps are steps/**/*.yaml";
  if (path.startsWith("jobs/")) return "jobs are jobs/**/*.yaml";
  if (path.startsWith("vars/")) return "variables files are vars/NAME.yaml, directly in vars/";
  return "a top-level YAML file is not read; jobs go in jobs/, steps in steps/, targets in targets/";
}

export function checkLayout(index: RepoIndex): void {
  for (const path of index.paths) {
    const c = classifyPath(path);
    if (c.kind === "unknown") {
      index.reportFile(
        path,
        "warning",
        "layout.unknown-file",
        `${path} is not in a place OpsConductor reads`,
        c.hint,
      );
    } else if (
      (c.kind === "step" || c.kind === "job" || c.kind === "credential" || c.kind === "targets") &&
      !ID.test(c.id)
    ) {
      const what =
        c.kind === "credential"
          ? "credential file name"
          : c.kind === "targets"
            ? "targets file name"
            : `${c.kind} id`;
      const message = `${what} "${c.id}" (from the file's path) is not a valid id`;
      const hint =
        "ids use lower-case letters, digits, `.`, `_`, `-`, with `/` between folders; rename the file";
      index.reportFile(path, "error", "id.invalid", message, hint);
    }
  }
}
