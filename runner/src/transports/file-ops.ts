/**
 * File operations for `copy` steps over any transport's exec channel: read a
 * file's hash, mode and owners (and its content, for a diff), and write a file
 * atomically (temporary file in the same folder, mode and owners set, then
 * rename). Values travel as environment variables and the content as a base64
 * here-document inside the script, which goes on the shell's stdin: nothing of
 * either ever reaches a command line. Needs POSIX sh with base64, sha256sum,
 * stat -c and mktemp (GNU coreutils or busybox).
 */
import { randomBytes } from "node:crypto";
import { environmentError } from "../core/errors.js";
import { buildStepScript } from "./script-builder.js";
import type { ExecRequest, ExecResult } from "./transport.js";

export interface FileState {
  exists: boolean;
  sha256?: string;
  /** Permission bits in octal text (`644`). */
  mode?: string;
  owner?: { name: string; id: string };
  group?: { name: string; id: string };
  /** Present when asked for. */
  content?: Buffer;
}

export interface ReadFileRequest {
  path: string;
  withContent: boolean;
  /** Owner and group names are wanted (not only ids). */
  withOwners?: boolean;
  sudo?: ExecRequest["sudo"];
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface WriteFileRequest {
  path: string;
  content: Buffer;
  /** Octal text; absent: an existing file keeps its mode, a new one gets 0644. */
  mode?: string;
  owner?: string;
  group?: string;
  sudo?: ExecRequest["sudo"];
  signal?: AbortSignal;
  timeoutMs?: number;
}

type Exec = (req: ExecRequest) => Promise<ExecResult>;

const READ_SCRIPT = `f=$OPSC_PATH
if [ -e "$f" ] && [ ! -f "$f" ]; then echo "opsc: $f exists and is not a regular file" >&2; exit 3; fi
if [ ! -e "$f" ]; then echo exists=0 >>"$OPSC_OUTPUT"; exit 0; fi
h=$(sha256sum <"$f") || exit 4
s=$(stat -c '%a %U %u %G %g' -- "$f") || exit 4
{ echo exists=1; echo "sha256=\${h%% *}"; echo "stat=$s"; } >>"$OPSC_OUTPUT"
if [ "$OPSC_WITH_CONTENT" = 1 ]; then c=$(base64 <"$f" | tr -d '\\n') || exit 4; echo "content=$c" >>"$OPSC_OUTPUT"; fi
exit 0
`;

function writeScript(content: Buffer): string {
  const end = `OPSC-END-${randomBytes(8).toString("hex")}`;
  const b64 = content.toString("base64").replace(/.{1,76}/g, "$&\n");
  return `set -e
f=$OPSC_PATH
d=$(dirname -- "$f")
b=$(basename -- "$f")
if [ -e "$f" ] && [ ! -f "$f" ]; then echo "opsc: $f exists and is not a regular file" >&2; exit 3; fi
[ -d "$d" ] || mkdir -p -- "$d"
t=$(mktemp "$d/.$b.opsc-XXXXXX")
trap 'rm -f -- "$t"' EXIT
base64 -d >"$t" <<'${end}'
${b64}${end}
if [ -n "$OPSC_MODE" ]; then chmod "$OPSC_MODE" "$t"
elif [ -e "$f" ]; then chmod "$(stat -c %a -- "$f")" "$t"
else chmod 0644 "$t"; fi
o=$OPSC_OWNER; g=$OPSC_GROUP
if [ -e "$f" ] && [ "$(id -u)" = 0 ]; then [ -n "$o" ] || o=$(stat -c %u -- "$f"); [ -n "$g" ] || g=$(stat -c %g -- "$f"); fi
if [ -n "$o" ] && [ -n "$g" ]; then chown -- "$o:$g" "$t"
elif [ -n "$o" ]; then chown -- "$o" "$t"
elif [ -n "$g" ]; then chgrp -- "$g" "$t"; fi
mv -f -- "$t" "$f"
trap - EXIT
`;
}

async function runScript(
  exec: Exec,
  target: string,
  what: string,
  script: string,
  env: Record<string, string>,
  opts: { sudo?: ExecRequest["sudo"]; signal?: AbortSignal; timeoutMs?: number },
): Promise<Record<string, string>> {
  const built = buildStepScript({
    shell: "sh",
    env,
    mode: "run",
    run: script,
    ...(opts.sudo ? { sudo: opts.sudo } : {}),
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const result = await exec({
    script: built.text,
    shell: "sh",
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.sudo ? { sudo: opts.sudo } : {}),
    onStdout: (b) => out.push(b),
    onStderr: (b) => err.push(b),
  });
  const text = Buffer.concat(out).toString("utf8");
  const at = text.indexOf(`${built.marker} ran `);
  const stderr = Buffer.concat(err).toString("utf8").trim().split("\n").slice(-3).join("; ");
  if (result.timedOut || result.cancelled)
    throw environmentError(
      "copy.interrupted",
      `target ${target}: ${what} ${result.timedOut ? "timed out" : "was cancelled"}`,
    );
  if (at < 0)
    throw environmentError("copy.failed", `target ${target}: ${what} failed: ${stderr || "no answer"}`);
  const lines = text.slice(at).split("\n");
  const rc = Number(lines[0]!.split(" ")[2]);
  if (rc !== 0)
    throw environmentError(
      "copy.failed",
      `target ${target}: ${what} failed (exit code ${rc})${stderr ? `: ${stderr}` : ""}`,
    );
  const outputs: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const eq = line.indexOf("=");
    if (eq > 0) outputs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return outputs;
}

export async function readFileOverExec(exec: Exec, target: string, req: ReadFileRequest): Promise<FileState> {
  const o = await runScript(
    exec,
    target,
    `reading ${req.path}`,
    READ_SCRIPT,
    { OPSC_PATH: req.path, OPSC_WITH_CONTENT: req.withContent ? "1" : "0" },
    req,
  );
  if (o.exists !== "1") return { exists: false };
  const [mode, owner, ownerId, group, groupId] = (o.stat ?? "").split(" ");
  return {
    exists: true,
    ...(o.sha256 ? { sha256: o.sha256 } : {}),
    ...(mode ? { mode } : {}),
    ...(owner && ownerId ? { owner: { name: owner, id: ownerId } } : {}),
    ...(group && groupId ? { group: { name: group, id: groupId } } : {}),
    ...(o.content !== undefined ? { content: Buffer.from(o.content, "base64") } : {}),
  };
}

export async function writeFileOverExec(exec: Exec, target: string, req: WriteFileRequest): Promise<void> {
  await runScript(
    exec,
    target,
    `writing ${req.path}`,
    writeScript(req.content),
    {
      OPSC_PATH: req.path,
      OPSC_MODE: req.mode ?? "",
      OPSC_OWNER: req.owner ?? "",
      OPSC_GROUP: req.group ?? "",
    },
    req,
  );
}
