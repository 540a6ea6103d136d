/**
 * `--repo` for every command: the given folder, or the nearest folder upward
 * from the working directory that holds opsconductor.yaml.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { userError } from "../core/errors.js";
import { findUp } from "../fs/find-up.js";

export function findRepoRoot(explicit?: string, from: string = process.cwd()): string {
  if (explicit !== undefined) {
    const root = resolve(from, explicit);
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      throw userError("repo.not-found", `--repo ${explicit}: no such folder`, {
        hint: "give the folder that holds opsconductor.yaml",
      });
    }
    if (!existsSync(join(root, "opsconductor.yaml"))) {
      throw userError(
        "repo.not-found",
        `${explicit} is not an automation repository (it has no opsconductor.yaml)`,
        {
          hint: "give the folder that holds opsconductor.yaml, or create one with `opsc init`",
        },
      );
    }
    return root;
  }
  const found = findUp("opsconductor.yaml", from);
  if (found !== undefined) return dirname(found);
  throw userError(
    "repo.not-found",
    "not inside an automation repository (no opsconductor.yaml here or in any parent folder)",
    {
      hint: "run the command inside one, pass --repo DIR, or create one with `opsc init`",
    },
  );
}
