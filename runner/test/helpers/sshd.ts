/**
 * Starts a real OpenSSH sshd for integration tests, listening on up to 16 loopback
 * addresses (127.0.0.x) with a fresh host key and client keys.
 *
 * As root it logs in a dedicated user `opsc-test` (created once, shell /bin/sh, a
 * known password, sudo with that password) so password auth and sudo are tested for
 * real; as anyone else it logs in the current user with keys only.
 * `permitRootLogin` (root only) also lets `root` log in with the test's client keys,
 * read from the test's own AuthorizedKeysFile: the machine's /root/.ssh is not touched.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

export const SSHD_PATH = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"].find((p) => existsSync(p));
export const TEST_USER = "opsc-test";
export const TEST_PASSWORD = "opsc-test-pw-'$(x)";
const isRoot = process.getuid?.() === 0;

export interface Sshd {
  addresses: string[];
  port: number;
  /** The server's host key, `ssh-ed25519 AAAA...`. */
  hostKey: string;
  user: string;
  /** Unencrypted client key (OpenSSH PEM). */
  clientKey: string;
  /** The same kind of key, encrypted with `clientKeyPassphrase`. */
  encryptedClientKey: string;
  clientKeyPassphrase: string;
  /** Set when password auth (and sudo) can be tested: running as root. */
  password?: string;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

function keygen(path: string, passphrase = ""): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "opsc-test", "-f", path], {
    stdio: "ignore",
  });
}

/** Creates the root-mode test user (idempotent) with the test password and sudo rights. */
function ensureTestUser(): void {
  try {
    execFileSync("id", [TEST_USER], { stdio: "ignore" });
  } catch {
    try {
      execFileSync("useradd", ["-m", "-s", "/bin/sh", TEST_USER], { stdio: "ignore" });
    } catch {
      // A parallel test file created it first.
    }
  }
  execFileSync("chpasswd", { input: `${TEST_USER}:${TEST_PASSWORD}\n`, stdio: ["pipe", "ignore", "ignore"] });
  if (existsSync("/etc/sudoers.d")) {
    const rule = `Defaults:${TEST_USER} timestamp_timeout=0, !lecture\n${TEST_USER} ALL=(ALL:ALL) ALL\n`;
    writeFileSync(`/etc/sudoers.d/${TEST_USER}`, rule, { mode: 0o440 });
  }
}

export interface SshdOptions {
  /** Let `root` log in with the client keys (PermitRootLogin prohibit-password); needs root. */
  permitRootLogin?: boolean;
}

export async function startSshd(addresses: string[], options: SshdOptions = {}): Promise<Sshd> {
  if (!SSHD_PATH) throw new Error("sshd not installed (apt-get install -y openssh-server)");
  if (options.permitRootLogin && !isRoot) throw new Error("root login can only be tested as root");
  if (addresses.length === 0 || addresses.length > 16) throw new Error("sshd listens on 1..16 addresses");
  const dir = mkdtempSync(join(tmpdir(), "opsc-sshd-"));
  chmodSync(dir, 0o755);
  keygen(join(dir, "host_ed25519"));
  keygen(join(dir, "client_ed25519"));
  const clientKeyPassphrase = "pass phrase with 'quotes'";
  keygen(join(dir, "client_enc_ed25519"), clientKeyPassphrase);
  const authorized =
    readFileSync(join(dir, "client_ed25519.pub"), "utf8") +
    readFileSync(join(dir, "client_enc_ed25519.pub"), "utf8");
  writeFileSync(join(dir, "authorized_keys"), authorized, { mode: 0o644 });
  if (isRoot) {
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    ensureTestUser();
  }
  const user = isRoot ? TEST_USER : userInfo().username;
  const logPath = join(dir, "sshd.log");

  for (let tries = 0; tries < 5; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const config = [
      `Port ${port}`,
      ...addresses.map((a) => `ListenAddress ${a}`),
      `HostKey ${join(dir, "host_ed25519")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "UsePAM no",
      "StrictModes no",
      `PasswordAuthentication ${isRoot ? "yes" : "no"}`,
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      `PermitRootLogin ${options.permitRootLogin ? "prohibit-password" : "no"}`,
      "AllowTcpForwarding yes",
      "LogLevel VERBOSE",
      // Benchmarks and tests open many connections at once.
      "MaxStartups 200:30:400",
      "MaxSessions 50",
      "",
    ].join("\n");
    writeFileSync(join(dir, "sshd_config"), config);
    const logFd = openSync(logPath, "w");
    const child: ChildProcess = spawn(SSHD_PATH, ["-D", "-e", "-f", join(dir, "sshd_config")], {
      stdio: ["ignore", logFd, logFd],
    });
    const ok = await waitFor(() => {
      const log = readFileSync(logPath, "utf8");
      if (/Address already in use|Cannot bind any address/.test(log) || child.exitCode !== null) return false;
      return addresses.every((a) => log.includes(`Server listening on ${a} port ${port}`)) ? true : undefined;
    }, 10_000);
    if (!ok) {
      child.kill("SIGKILL");
      if (tries === 4) throw new Error(`sshd did not start: ${readFileSync(logPath, "utf8")}`);
      continue;
    }
    const pub = readFileSync(join(dir, "host_ed25519.pub"), "utf8").trim().split(/\s+/);
    return {
      addresses,
      port,
      hostKey: `${pub[0]} ${pub[1]}`,
      user,
      clientKey: readFileSync(join(dir, "client_ed25519"), "utf8"),
      encryptedClientKey: readFileSync(join(dir, "client_enc_ed25519"), "utf8"),
      clientKeyPassphrase,
      ...(isRoot ? { password: TEST_PASSWORD } : {}),
      dir,
      log: () => readFileSync(logPath, "utf8"),
      stop: async () => {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error("unreachable");
}

/** Polls until check returns true (ok) or false (failed), or the time is up. */
async function waitFor(check: () => boolean | undefined, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const r = check();
    if (r !== undefined) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
  return false;
}
