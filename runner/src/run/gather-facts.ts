/**
 * Facts about a target, gathered once per run over its open connection when
 * the job says `facts: true`: one POSIX sh script on stdin, `key=value` lines back.
 */
import { environmentError } from "../core/errors.js";
import type { Transport } from "../transports/transport.js";

export interface TargetFacts {
  os_id: string;
  os_version: string;
  os_like: string;
  kernel: string;
  arch: string;
  hostname: string;
  cpus: number;
  memory_mb: number;
  package_manager: string;
  init_system: string;
}

const SCRIPT = `{
exec </dev/null
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=\${ID:-$(uname -s | tr 'A-Z' 'a-z')}"
echo "os_version=\${VERSION_ID:-}"
echo "os_like=\${ID_LIKE:-}"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "hostname=$(hostname 2>/dev/null || uname -n)"
echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0)"
m=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo 2>/dev/null)
echo "memory_mb=\${m:-0}"
pm=unknown
for p in apt-get dnf yum zypper apk pacman; do if command -v "$p" >/dev/null 2>&1; then pm=$p; break; fi; done
[ "$pm" = apt-get ] && pm=apt
echo "package_manager=$pm"
init=unknown
if [ -d /run/systemd/system ]; then init=systemd
elif command -v rc-service >/dev/null 2>&1; then init=openrc
elif [ -r /proc/1/comm ]; then init=$(cat /proc/1/comm)
fi
echo "init_system=$init"
exit 0
}
`;

export async function gatherFacts(transport: Transport, signal?: AbortSignal): Promise<TargetFacts> {
  const out: Buffer[] = [];
  const result = await transport.exec({
    script: SCRIPT,
    shell: "sh",
    timeoutMs: 30_000,
    ...(signal ? { signal } : {}),
    onStdout: (b) => out.push(b),
    onStderr: () => undefined,
  });
  if (result.exitCode !== 0)
    throw environmentError("facts.failed", `target ${transport.name}: gathering facts failed`);
  const raw: Record<string, string> = {};
  for (const line of Buffer.concat(out).toString("utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) raw[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return {
    os_id: raw.os_id ?? "",
    os_version: raw.os_version ?? "",
    os_like: raw.os_like ?? "",
    kernel: raw.kernel ?? "",
    arch: raw.arch ?? "",
    hostname: raw.hostname ?? "",
    cpus: Number(raw.cpus ?? 0) || 0,
    memory_mb: Number(raw.memory_mb ?? 0) || 0,
    package_manager: raw.package_manager ?? "unknown",
    init_system: raw.init_system ?? "unknown",
  };
}
