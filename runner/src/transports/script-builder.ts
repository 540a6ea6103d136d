/**
 * Builds the text sent on a remote shell's stdin for one step.
 *
 * The user's `check` and `run` text travels as single-quoted shell words and runs
 * after `export NAME='value'` lines for env, inputs and secrets. Nothing else a
 * user supplies becomes script text, and nothing at all goes into argv. Outputs come back after a trailer line carrying a
 * random nonce that the step never sees, so a step's own stdout cannot forge them.
 */
import { randomBytes } from "node:crypto";
import { userError } from "../core/errors.js";
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

/**
 * POSIX sh / bash. The fast path forks only a subshell per script: the step text
 * sits in a single-quoted variable and runs through `eval` in a subshell that
 * first exports the env. $OPSC_OUTPUT names a file under an unguessable name
 * (the nonce) that exists only once the step writes to it; files the wrapper
 * creates itself use noclobber (O_EXCL).
 * Under sudo the step is piped to sudo's stdin by the builtin printf, so neither
 * the script nor any value reaches sudo's argv or the disk.
 */
function buildPosix(req: StepScriptRequest, marker: string): string {
  const sh = req.shell === "bash" ? "bash --noprofile --norc" : "sh";
  const nonce = marker.slice("OPSC-".length);
  const exportList = Object.entries(req.env).map(([k, v]) => `export ${k}=${quoteSh(v)}`);
  const exports = exportList.map((e) => `${e}\n`).join("");
  const base = `\${TMPDIR:-/tmp}/opsc-${nonce}`;
  let s = "{\n";
  s += "umask 077\n";
  s += `opsc_out="${base}.out"\n`;
  if (req.sudo) {
    // Created by the login user, so it can delete what root (or the sudo user) appended to.
    s += `set -C\n: >"$opsc_out" || { echo "opsc: cannot create a temporary file in \${TMPDIR:-/tmp}" >&2; exit 125; }\nset +C\n`;
  }
  const cleanupAt = s.length;
  const texts: Array<["check" | "run", string]> = [];
  if (req.check !== undefined) texts.push(["check", req.check]);
  if (req.mode === "run") {
    if (req.run === undefined) throw userError("run.no-run", "the step has no `run` script");
    texts.push(["run", req.run]);
  } else if (req.check === undefined) {
    throw userError("run.no-check", "the step has no `check` script");
  }
  const invoke: Record<string, string> = {};
  if (!req.sudo) {
    for (const [name, text] of texts) s += `opsc_${name}=${quoteSh(text)}\n`;
    s += `opsc_step() { ( exec </dev/null; OPSC_OUTPUT="$opsc_out"; export OPSC_OUTPUT; ${exportList.map((e) => `${e}; `).join("")}opsc_text=$1; unset opsc_check opsc_run opsc_out; eval "$opsc_text" ); }\n`;
    for (const [name] of texts) invoke[name] = `opsc_step "$opsc_${name}"`;
  } else {
    const sudoUser = req.sudo.user ?? "root";
    // Under sudo nothing is written to disk: the step travels on sudo's stdin,
    // after the password line (when sudo asks) and a sentinel line. The reader
    // skips everything up to the sentinel, so a sudo that does not ask (NOPASSWD,
    // cached credentials) never lets the password reach a shell.
    const sentinel = `#OPSC-SUDO-${randomBytes(8).toString("hex")}`;
    const reader = `while IFS= read -r l; do [ "$l" = '${sentinel}' ] && exec ${sh} -s "$@"; done; exit 125`;
    if (req.sudo.password !== undefined) s += `opsc_pw=${quoteSh(req.sudo.password)}\n`;
    for (const [name, text] of texts) {
      // One `{ }` group: parsed whole before `exec </dev/null` takes stdin away.
      const body = `{\nexec </dev/null\nOPSC_OUTPUT="$1"; export OPSC_OUTPUT\n${exports}eval ${quoteSh(text)}\n}\n`;
      s += `opsc_${name}=${quoteSh(body)}\n`;
      // printf is a builtin: neither the password nor the step is in any process's argv.
      const feed = `{ ${req.sudo.password !== undefined ? `printf '%s\\n' "$opsc_pw"; ` : ""}printf '%s\\n' '${sentinel}'; printf '%s' "$opsc_${name}"; }`;
      const flags = req.sudo.password !== undefined ? "-S -p ''" : "-n";
      invoke[name] =
        `${feed} | sudo ${flags} -u ${quoteSh(sudoUser)} -H -- sh -c ${quoteSh(reader)} sh "$opsc_out"`;
    }
    // The sudo user appends outputs to a file the login user created.
    if (sudoUser !== "root") s += `chmod 666 "$opsc_out"\n`;
  }
  // Without sudo the file exists only if the step wrote outputs, so most steps fork no `rm`.
  const cleanup = req.sudo ? `rm -f "$opsc_out"` : `[ ! -e "$opsc_out" ] || rm -f "$opsc_out"`;
  s = `${s.slice(0, cleanupAt)}trap '${cleanup}' EXIT\n${s.slice(cleanupAt)}`;
  // Builtins only: read the outputs file back without forking `cat`.
  const trailer = (kind: TrailerKind): string =>
    `printf '%s %s %s\\n' '${marker}' ${kind} "$opsc_rc"; [ ! -e "$opsc_out" ] || while IFS= read -r opsc_l || [ -n "$opsc_l" ]; do printf '%s\\n' "$opsc_l"; done <"$opsc_out"`;
  if (req.mode === "check") {
    s += `${invoke.check}\nopsc_rc=$?\n${trailer("check")}\nexit 0\n`;
  } else {
    if (req.check !== undefined) {
      s += `${invoke.check}\nopsc_rc=$?\n`;
      s += `if [ "$opsc_rc" -eq 0 ]; then ${trailer("skip")}; exit 0; fi\n`;
      s += req.sudo ? `: >"$opsc_out"\n` : `[ ! -e "$opsc_out" ] || rm -f "$opsc_out"\n`;
    }
    s += `${invoke.run}\nopsc_rc=$?\n${trailer("ran")}\nexit "$opsc_rc"\n`;
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
    `[Console]::Out.Write("${marker} ${kind} $opscRc\`n"); [Console]::Out.Write([IO.File]::ReadAllText($env:OPSC_OUTPUT))`;
  if (req.check !== undefined) write("check", req.check);
  if (req.mode === "check") {
    if (req.check === undefined) throw userError("run.no-check", "the step has no `check` script");
    lines.push(invoke("check"), trailer("check"), "$opscExit = 0");
  } else {
    if (req.run === undefined) throw userError("run.no-run", "the step has no `run` script");
    write("run", req.run);
    lines.push("$opscSkip = $false");
    if (req.check !== undefined) {
      lines.push(
        invoke("check"),
        `if ($opscRc -eq 0) { ${trailer("skip")}; $opscSkip = $true; $opscExit = 0 }`,
      );
      lines.push("[IO.File]::WriteAllText($env:OPSC_OUTPUT, '')");
    }
    lines.push(`if (-not $opscSkip) { ${invoke("run")}; ${trailer("ran")}; $opscExit = $opscRc }`);
  }
  lines.push(
    "} finally { Remove-Item -Recurse -Force $opscDir -ErrorAction SilentlyContinue }",
    "exit $opscExit",
  );
  // `powershell -Command -` runs stdin line by line; this first line reads the rest whole.
  const bootstrap =
    "$opscScript = [Console]::In.ReadToEnd(); & ([scriptblock]::Create($opscScript)); exit $LASTEXITCODE";
  return `${bootstrap}\n${lines.join("\n")}\n`;
}
