/**
 * Builds the text sent on a remote shell's stdin for one step.
 *
 * The user's `check` and `run` text is copied verbatim into temporary files through
 * quoted here-documents (no expansion), prefixed by `export NAME='value'` lines for
 * env, inputs and secrets. Nothing else a user supplies becomes script text, and
 * nothing at all goes into argv. Outputs come back after a trailer line carrying a
 * random nonce that the step never sees, so a step's own stdout cannot forge them.
 */
import { randomBytes } from "node:crypto";
import { bug, userError } from "../core/errors.js";
import type { Shell } from "../core/repo-model.js";
import { checkEnvEntry, quotePowerShell, quoteSh } from "./shell-quote.js";

export type ScriptMode = "run" | "check";

export interface StepScriptRequest {
  shell: Shell;
  env: Record<string, string>;
  check?: string;
  run?: string;
  /** `run`: check then run; `check`: only the check (dry run). */
  mode: ScriptMode;
  /** Run the step through sudo. The password, if any, is piped to `sudo -S` from a shell builtin. */
  sudo?: { user?: string; password?: string };
  /** For tests; random by default. */
  nonce?: string;
}

export interface StepScript {
  text: string;
  /** The trailer line starts with this; the engine splits stdout on it. */
  marker: string;
}

/** What the trailer says happened. */
export type TrailerKind = "ran" | "skip" | "check";

export function buildStepScript(req: StepScriptRequest): StepScript {
  for (const [name, value] of Object.entries(req.env)) checkEnvEntry(name, value);
  const nonce = req.nonce ?? randomBytes(16).toString("hex");
  const marker = `OPSC-${nonce}`;
  if (req.shell === "powershell") return { text: buildPowerShell(req, marker), marker };
  return { text: buildPosix(req, marker), marker };
}

function hereDoc(path: string, body: string, delimiter: string): string {
  if (body.split(/\r?\n/).includes(delimiter)) throw bug("run.heredoc-collision", "here-document delimiter collision");
  const text = body.endsWith("\n") ? body : `${body}\n`;
  return `cat >"${path}" <<'${delimiter}'\n${text}${delimiter}\n`;
}

function buildPosix(req: StepScriptRequest, marker: string): string {
  const sh = req.shell === "bash" ? "bash --noprofile --norc" : "sh";
  const delimiter = `${marker}-EOF`;
  const envLines = Object.entries(req.env)
    .map(([k, v]) => `export ${k}=${quoteSh(v)}\n`)
    .join("");
  // Each step file closes its stdin first: under sudo -S that discards the password line.
  const prologue = `exec </dev/null\nOPSC_OUTPUT="$1"; export OPSC_OUTPUT\n${envLines}`;
  const sudoUser = req.sudo?.user ?? "root";
  const shared = req.sudo !== undefined && sudoUser !== "root";
  const invoke = (file: string): string => {
    const args = `"$opsc_dir/${file}" "$opsc_dir/out"`;
    if (!req.sudo) return `${sh} ${args} </dev/null`;
    const sudo = `sudo -u ${quoteSh(sudoUser)} -H -- ${sh} ${args}`;
    // printf is a builtin: the password is never in any process's argv.
    return req.sudo.password !== undefined
      ? `printf '%s\\n' "$opsc_pw" | ${sudo.replace("sudo ", "sudo -S -p '' ")}`
      : `${sudo.replace("sudo ", "sudo -n ")} </dev/null`;
  };
  let s = "{\n";
  s += "umask 077\n";
  s += `opsc_dir=$(mktemp -d 2>/dev/null || mktemp -d -t opsc.XXXXXX) || { echo "opsc: cannot create a temporary directory" >&2; exit 125; }\n`;
  s += `trap 'rm -rf "$opsc_dir"' EXIT\n`;
  if (req.sudo?.password !== undefined) s += `opsc_pw=${quoteSh(req.sudo.password)}\n`;
  s += `: >"$opsc_dir/out"\n`;
  if (req.check !== undefined) s += hereDoc("$opsc_dir/check", prologue + req.check, delimiter);
  if (req.mode === "run") {
    if (req.run === undefined) throw userError("run.no-run", "the step has no `run` script");
    s += hereDoc("$opsc_dir/run", prologue + req.run, delimiter);
  }
  if (shared) s += `chmod 711 "$opsc_dir"; chmod 644 "$opsc_dir"/check "$opsc_dir"/run 2>/dev/null; chmod 666 "$opsc_dir/out"\n`;
  const trailer = (kind: TrailerKind): string =>
    `printf '\\n%s %s %s\\n' '${marker}' ${kind} "$opsc_rc"; cat "$opsc_dir/out"\n`;
  if (req.mode === "check") {
    if (req.check === undefined) throw userError("run.no-check", "the step has no `check` script");
    s += `${invoke("check")}\nopsc_rc=$?\n${trailer("check")}exit 0\n`;
  } else {
    if (req.check !== undefined) {
      s += `${invoke("check")}\nopsc_rc=$?\n`;
      s += `if [ "$opsc_rc" -eq 0 ]; then ${trailer("skip").trimEnd()}; exit 0; fi\n: >"$opsc_dir/out"\n`;
    }
    s += `${invoke("run")}\nopsc_rc=$?\n${trailer("ran")}exit "$opsc_rc"\n`;
  }
  s += "}\n";
  return s;
}

/**
 * PowerShell (Windows over OpenSSH). Scripts travel base64-encoded and are written
 * to .ps1 files, so no here-string terminator in user text can end them early.
 */
function buildPowerShell(req: StepScriptRequest, marker: string): string {
  if (req.sudo) throw userError("run.sudo-windows", "sudo is not available on PowerShell targets");
  const b64 = (t: string): string => quotePowerShell(Buffer.from(t, "utf8").toString("base64"));
  const lines: string[] = [
    "$ErrorActionPreference = 'Continue'",
    "$opscDir = Join-Path ([IO.Path]::GetTempPath()) ('opsc-' + [guid]::NewGuid().ToString('N'))",
    "New-Item -ItemType Directory -Path $opscDir | Out-Null",
    "try {",
    "$env:OPSC_OUTPUT = Join-Path $opscDir 'out'",
    "[IO.File]::WriteAllText($env:OPSC_OUTPUT, '')",
  ];
  for (const [k, v] of Object.entries(req.env)) lines.push(`$env:${k} = ${quotePowerShell(v)}`);
  const write = (name: string, body: string): void => {
    lines.push(
      `[IO.File]::WriteAllText((Join-Path $opscDir '${name}.ps1'), [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(${b64(body)})), [Text.UTF8Encoding]::new($true))`,
    );
  };
  const invoke = (name: string): string =>
    `& powershell -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File (Join-Path $opscDir '${name}.ps1') < $null; $opscRc = $LASTEXITCODE`;
  const trailer = (kind: TrailerKind): string =>
    `[Console]::Out.Write("\`n${marker} ${kind} $opscRc\`n"); [Console]::Out.Write([IO.File]::ReadAllText($env:OPSC_OUTPUT))`;
  if (req.check !== undefined) write("check", req.check);
  if (req.mode === "check") {
    if (req.check === undefined) throw userError("run.no-check", "the step has no `check` script");
    lines.push(invoke("check"), trailer("check"), "$opscExit = 0");
  } else {
    if (req.run === undefined) throw userError("run.no-run", "the step has no `run` script");
    write("run", req.run);
    lines.push("$opscSkip = $false");
    if (req.check !== undefined) {
      lines.push(invoke("check"), `if ($opscRc -eq 0) { ${trailer("skip")}; $opscSkip = $true; $opscExit = 0 }`);
      lines.push("[IO.File]::WriteAllText($env:OPSC_OUTPUT, '')");
    }
    lines.push(`if (-not $opscSkip) { ${invoke("run")}; ${trailer("ran")}; $opscExit = $opscRc }`);
  }
  lines.push("} finally { Remove-Item -Recurse -Force $opscDir -ErrorAction SilentlyContinue }", "exit $opscExit");
  // `powershell -Command -` runs stdin line by line; this first line reads the rest whole.
  const bootstrap = "$opscScript = [Console]::In.ReadToEnd(); & ([scriptblock]::Create($opscScript)); exit $LASTEXITCODE";
  return `${bootstrap}\n${lines.join("\n")}\n`;
}
