// Module hooks for tests that assert which packages a command loads: every
// URL the process resolves is appended to the file named in `data.out`.
// Registered with `node --import` (see loaded-packages.ts); plain JavaScript
// because it runs inside the built CLI's own process, with no TypeScript loader.
import { appendFileSync } from "node:fs";

let out;

export function initialize(data) {
  out = data.out;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(out, `${resolved.url}\n`);
  return resolved;
}
