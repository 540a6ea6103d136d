/**
 * The file system isomorphic-git works on: node's promise API. isomorphic-git
 * wraps the file system anew on every call and probes it by calling readFile()
 * without a path, twice; node answers each probe by building an error with a
 * stack trace, a good part of the cost of reading a tree of small files (a
 * webhook's commit, a run's repository). Here the probe is answered at once.
 */
import { promises } from "node:fs";

function readFile(...args: unknown[]): Promise<unknown> {
  if (args.length === 0) return Promise.resolve(undefined);
  return (promises.readFile as (...a: unknown[]) => Promise<unknown>)(...args);
}

export const gitFs = { promises: { ...promises, readFile: readFile as typeof promises.readFile } };
