/**
 * Builds dist/opsc.js once before any test file runs, so tests that start the
 * CLI as a process run the current source, and no two test files ever write
 * the bundle at the same time.
 */
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
  const r = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the CLI failed:\n${r.stderr}`);
}
