import { randomBytes } from "node:crypto";

/** `20261122T031500Z-patch-web-7f3a`: sortable, unique, readable. */
export function newRunId(job: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const slug = job
    .replace(/[^a-z0-9]+/gi, "-")
    .replace(/^-|-$/g, "")
    .toLowerCase();
  return `${stamp}-${slug}-${randomBytes(2).toString("hex")}`;
}
