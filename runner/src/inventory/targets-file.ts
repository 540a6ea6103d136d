/**
 * Reading and replacing a targets file on disk for `opsc import` and
 * `opsc discover --write`: the new content is written to a temporary file
 * beside it and renamed over it, so a crash never leaves half a file.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { userError } from "../core/errors.js";

export function readTargetsFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  if (!statSync(path).isFile()) throw userError("targets.not-a-file", `${path} is not a file`);
  return readFileSync(path, "utf8");
}

export function writeTargetsFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(tmp, text, { flag: "wx" });
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}
