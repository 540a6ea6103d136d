/**
 * The script a second SSH channel runs to stop a step: OpenSSH refuses signal
 * requests for sessions that log in as root ("session signalling requires
 * privilege separation"), so the runner cannot rely on them.
 *
 * The step's shell reported its pid when it started. The kill script takes that
 * process, every descendant and every process group they are in, sends TERM,
 * waits up to the grace period for them to go, then sends KILL to whatever is
 * left (including children started meanwhile and processes orphaned by the TERM,
 * which stay in their group). A step run through sudo has processes the login
 * user may not signal, so each signal is also sent through sudo with the step's
 * sudo settings; the password travels on sudo's stdin from a shell builtin.
 */
import { quoteSh } from "./shell-quote.js";

export interface RemoteKillRequest {
  /** The pid the step's shell reported (`$$`). */
  pid: number;
  graceMs: number;
  sudo?: { user?: string; password?: string };
}

/** How often the kill script looks whether the step is gone yet. */
const POLL_MS = 200;

export function buildRemoteKillScript(req: RemoteKillRequest): string {
  if (!Number.isInteger(req.pid) || req.pid <= 1) throw new Error(`bad remote pid ${req.pid}`);
  const polls = Math.max(1, Math.ceil(req.graceMs / POLL_MS));
  // Seeds are pids and -pgids; out are the seeds still alive, their descendants and their groups.
  const tree = `ps -A -o pid= -o ppid= -o pgid= 2>/dev/null | awk -v seeds="$1" '
BEGIN { n = split(seeds, s, " "); for (i = 1; i <= n; i++) { if (s[i] ~ /^-[0-9]+$/) grp[substr(s[i], 2)] = 1; else if (s[i] ~ /^[0-9]+$/) keep[s[i]] = 1 } }
{ parent[$1] = $2; group[$1] = $3 }
END {
  for (p in parent) if (group[p] in grp) keep[p] = 1
  do { added = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; added = 1 } } while (added)
  out = ""
  for (p in keep) if ((p in parent) && p > 1) { out = out " " p; g = group[p]; if (g > 1 && !(g in seen)) { seen[g] = 1; out = out " -" g } }
  print out
}'`;
  let s = `opsc_tree() { ${tree}; }\n`;
  let viaSudo = "";
  if (req.sudo) {
    const user = quoteSh(req.sudo.user ?? "root");
    if (req.sudo.password !== undefined) {
      s += `opsc_pw=${quoteSh(req.sudo.password)}\n`;
      viaSudo = ` printf '%s\\n' "$opsc_pw" | sudo -S -p '' -u ${user} -- kill -s "$1" -- $2 >/dev/null 2>&1;`;
    } else {
      viaSudo = ` sudo -n -u ${user} -- kill -s "$1" -- $2 >/dev/null 2>&1;`;
    }
  }
  s += `opsc_signal() { kill -s "$1" -- $2 >/dev/null 2>&1;${viaSudo} :; }\n`;
  s += `opsc_set=$(opsc_tree ${req.pid})\n`;
  s += `[ -n "$opsc_set" ] || exit 0\n`;
  s += `opsc_signal TERM "$opsc_set"\n`;
  s += `opsc_i=0\n`;
  s += `while [ "$opsc_i" -lt ${polls} ]; do\n`;
  s += `  sleep 0.2 2>/dev/null || sleep 1\n`;
  s += `  opsc_set=$(opsc_tree "$opsc_set")\n`;
  s += `  [ -n "$opsc_set" ] || exit 0\n`;
  s += `  opsc_i=$((opsc_i + 1))\n`;
  s += `done\n`;
  s += `opsc_signal KILL "$opsc_set"\n`;
  s += `exit 0\n`;
  return s;
}
