/**
 * Reading and replacing a targets file on disk for `opsc import` and
 * `opsc discover --write`: the new content is written to a temporary file
 * beside it and renamed over it, so a crash never leaves half a file.
 */
import { existsSync, readFileSync, statSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { userError } from "../core/errors.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";

export function readTargetsFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  if (!statSync(path).isFile()) throw userError("targets.not-a-file", `${path} is not a file`);
  return readFileSync(path, "utf8");
}

export function writeTargetsFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, text);
}
