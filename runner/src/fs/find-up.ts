/**
 * The nearest of `names` in `from` or a folder above it: where a repository's
 * root, its `.git` or a `.sops.yaml` is, seen from somewhere inside.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** The path of the first match (the nearest folder wins, then the order of `names`), or undefined at the root. */
export function findUp(names: string | readonly string[], from: string): string | undefined {
  const wanted = typeof names === "string" ? [names] : names;
  let dir = resolve(from);
  for (;;) {
    for (const name of wanted) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
