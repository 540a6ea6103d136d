/**
 * Executes a `copy` step on one target: each file is rendered (templates),
 * compared with the target's by SHA-256, mode and owners, and written only
 * when it differs. Under `--check` nothing is written and a unified diff of
 * what would change is reported, except for secret content, whose diff is
 * never shown. Returns the step's outcome; lines go to `say`.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { renderLiquid } from "../core/liquid-template.js";
import type { PlannedCopy } from "../core/plan-model.js";
import { unifiedDiff } from "../core/unified-diff.js";
import type { ExecRequest, FileState, Transport } from "../transports/transport.js";

export interface CopyRequest {
  copy: PlannedCopy;
  /** `dest` with expressions already rendered. */
  dest: string;
  transport: Transport;
  readRepoFile(path: string): Uint8Array | undefined;
  /** Liquid context (templates only). */
  context: Record<string, unknown>;
  /** The template reads secrets: handled as secret content. */
  withSecrets: boolean;
  checkMode: boolean;
  sudo?: ExecRequest["sudo"];
  signal?: AbortSignal;
  timeoutMs?: number;
  say(line: string): void;
}

export interface CopyResult {
  changed: boolean;
  /** Destination paths written (or that would be). */
  files: string[];
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

function sameOwner(want: string | undefined, have: { name: string; id: string } | undefined): boolean {
  return want === undefined || (have !== undefined && (have.name === want || have.id === want));
}

/** What differs besides content: `mode 600 -> 644`, `owner x -> y`. */
function metaChanges(copy: PlannedCopy, state: FileState): string[] {
  const out: string[] = [];
  if (copy.mode !== undefined && parseInt(state.mode ?? "", 8) !== parseInt(copy.mode, 8))
    out.push(`mode ${state.mode} -> ${copy.mode}`);
  if (!sameOwner(copy.owner, state.owner)) out.push(`owner ${state.owner?.name} -> ${copy.owner}`);
  if (!sameOwner(copy.group, state.group)) out.push(`group ${state.group?.name} -> ${copy.group}`);
  return out;
}

export async function runCopy(req: CopyRequest): Promise<CopyResult> {
  const { copy } = req;
  const secret = copy.secret || req.withSecrets;
  const changedFiles: string[] = [];
  for (const file of copy.files) {
    const bytes = req.readRepoFile(file.src);
    if (bytes === undefined) throw new Error(`${file.src} is not in the repository at this commit`);
    let content = Buffer.from(bytes);
    if (copy.template) content = Buffer.from(renderLiquid(content.toString("utf8"), file.src, req.context));
    const dest = file.rel ? posix.join(req.dest, file.rel) : req.dest;
    const common = {
      ...(req.sudo ? { sudo: req.sudo } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
    };
    const state = await req.transport.readFile({
      path: dest,
      withContent: req.checkMode && !secret,
      withOwners: copy.owner !== undefined || copy.group !== undefined,
      ...common,
    });
    const contentDiffers = !state.exists || state.sha256 !== sha256(content);
    const meta = state.exists ? metaChanges(copy, state) : [];
    if (!contentDiffers && meta.length === 0) continue;
    changedFiles.push(dest);
    const verb = req.checkMode ? "would change" : "changed";
    const what = [!state.exists ? "created" : contentDiffers ? "content" : "", ...meta].filter(Boolean);
    req.say(`${dest}: ${verb} (${what.join(", ")})`);
    if (req.checkMode && contentDiffers) {
      if (secret) req.say(`${dest}: diff not shown (secret content)`);
      else {
        const before = state.content?.toString("utf8") ?? "";
        const diff = unifiedDiff(before, content.toString("utf8"), state.exists ? dest : "/dev/null", dest);
        for (const line of diff.trimEnd().split("\n")) req.say(line);
      }
    }
    if (!req.checkMode) {
      await req.transport.writeFile({
        path: dest,
        content,
        ...(copy.mode !== undefined ? { mode: copy.mode } : {}),
        ...(copy.owner !== undefined ? { owner: copy.owner } : {}),
        ...(copy.group !== undefined ? { group: copy.group } : {}),
        ...common,
      });
    }
  }
  return { changed: changedFiles.length > 0, files: changedFiles };
}
