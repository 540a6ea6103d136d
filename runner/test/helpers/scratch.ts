/**
 * Temporary folders for one test file, removed after it. Call at the file's
 * top level, before its own afterAll: hooks run in reverse order, so servers
 * and processes are stopped before their folders go.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

export interface Scratch {
  /** A new empty folder whose name starts with `prefix`. */
  tmp(prefix: string): string;
  /** Removes `dir` with the rest (a folder something else created). */
  adopt(dir: string): void;
}

export function scratchFolders(): Scratch {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    tmp(prefix) {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    adopt(dir) {
      dirs.push(dir);
    },
  };
}
