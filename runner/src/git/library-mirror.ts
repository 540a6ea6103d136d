/**
 * OPSC_LIBRARY_MIRROR: fetch a step library from somewhere other than the URL
 * opsconductor.yaml names, as git's `url.<base>.insteadOf` does. For machines
 * that reach the library's server only through a mirror (air-gapped sites, a
 * proxy forge, a test serving the repository on loopback).
 *
 * It rewrites the URL fetched and nothing else: the lock keeps the canonical
 * URL, the cache entry is keyed by it, and the locked commit and steps hash
 * are checked whatever served them, so a mirror cannot change what runs.
 */
import { environmentError } from "../core/errors.js";
import { displayUrl } from "./display-url.js";

export const MIRROR_VARIABLE = "OPSC_LIBRARY_MIRROR";

export interface MirrorRule {
  prefix: string;
  replacement: string;
}

/**
 * `PREFIX=REPLACEMENT` entries separated by white space (URLs never hold any);
 * each entry splits at its first `=`.
 */
export function parseMirrorRules(value: string | undefined): MirrorRule[] {
  const rules: MirrorRule[] = [];
  for (const entry of (value ?? "").split(/\s+/).filter((s) => s !== "")) {
    const eq = entry.indexOf("=");
    const prefix = eq > 0 ? entry.slice(0, eq) : "";
    const replacement = eq > 0 ? entry.slice(eq + 1) : "";
    if (prefix === "" || !/^https?:\/\/./i.test(replacement)) {
      throw environmentError(
        "library.bad-mirror",
        `${MIRROR_VARIABLE} entry "${displayUrl(entry)}" is not PREFIX=REPLACEMENT with an http(s) replacement`,
        {
          hint: `for example ${MIRROR_VARIABLE}="https://github.com/=https://git.example.internal/mirror/github/"; separate several entries with spaces`,
        },
      );
    }
    rules.push({ prefix, replacement });
  }
  return rules;
}

/** The URL to fetch `url` from: the longest matching prefix is replaced, as git does; else `url` itself. */
export function mirroredUrl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  let best: MirrorRule | undefined;
  for (const rule of parseMirrorRules(env[MIRROR_VARIABLE])) {
    if (url.startsWith(rule.prefix) && (!best || rule.prefix.length > best.prefix.length)) best = rule;
  }
  return best ? best.replacement + url.slice(best.prefix.length) : url;
}
