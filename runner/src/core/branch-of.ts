/**
 * The branch a pushed ref names: `refs/heads/main` and a bare `main` are the
 * branch `main`; any other `refs/...` (tags, notes, our own refs) is no branch.
 */
export function branchOf(ref: string): string | undefined {
  if (ref.startsWith("refs/heads/")) return ref.slice("refs/heads/".length);
  if (ref.startsWith("refs/")) return undefined;
  return ref;
}
