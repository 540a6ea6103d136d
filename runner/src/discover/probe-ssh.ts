/**
 * Looks at one address and port: is it open, is it SSH (its banner), and which
 * host keys does it present. Keys are read inside the key exchange (ssh2's
 * hostVerifier records the key and refuses it), so nothing ever authenticates.
 */
import net from "node:net";
import { Client } from "ssh2";
import { keyType } from "../transports/host-key.js";

export type ProbeState = "ssh" | "not-ssh" | "closed" | "no-answer";

export interface ProbeResult {
  address: string;
  port: number;
  state: ProbeState;
  /** The server's identification line (`SSH-2.0-OpenSSH_9.6`), or the first bytes of a non-SSH answer. */
  banner?: string;
  /** OpenSSH form (`ssh-ed25519 AAAA...`), the server's preferred type first. */
  hostKeys: string[];
  /** Why a key could not be read, or why the port counted as closed. */
  error?: string;
  ms: number;
}

/** Host key algorithm families; one key per family is asked for. */
const FAMILIES: string[][] = [
  ["ssh-ed25519"],
  ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"],
  ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
];

/** RFC 4253 4.2: the server may send other lines before its identification; bounded here. */
const MAX_BANNER_BYTES = 4096;
const MAX_BANNER_LINES = 5;

export async function probeSsh(address: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const start = Date.now();
  const done = (r: Omit<ProbeResult, "ms" | "address" | "port">): ProbeResult => ({
    address,
    port,
    ...r,
    ms: Date.now() - start,
  });
  const first = await readBanner(address, port, timeoutMs);
  if (first.state !== "ssh") return done({ ...first, hostKeys: [] });
  const hostKeys: string[] = [];
  let error: string | undefined;
  let remaining = FAMILIES;
  while (remaining.length > 0) {
    const got = await presentedKey(address, port, remaining.flat(), timeoutMs);
    if ("error" in got) {
      // The first failure is an error; later ones mean the server has no key of the remaining types.
      if (hostKeys.length === 0) error = got.error;
      break;
    }
    const type = keyType(got.key);
    hostKeys.push(`${type} ${got.key.toString("base64")}`);
    const before = remaining.length;
    remaining = remaining.filter(
      (f) => !f.includes(type) && !(type === "ssh-rsa" && f.includes("rsa-sha2-512")),
    );
    if (remaining.length === before) break;
  }
  return done({
    state: "ssh",
    ...(first.banner ? { banner: first.banner } : {}),
    hostKeys,
    ...(error ? { error } : {}),
  });
}

function readBanner(
  address: string,
  port: number,
  timeoutMs: number,
): Promise<{ state: ProbeState; banner?: string; error?: string }> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: address, port });
    let buf = "";
    let settled = false;
    const finish = (r: { state: ProbeState; banner?: string; error?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => {
      finish(
        sock.connecting
          ? { state: "no-answer", error: `no connection within ${timeoutMs} ms` }
          : buf
            ? { state: "not-ssh", banner: printable(buf) }
            : { state: "not-ssh", error: `open, but nothing said within ${timeoutMs} ms` },
      );
    }, timeoutMs);
    sock.setEncoding("latin1");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      const lines = buf.split("\n").slice(0, -1);
      for (const line of lines) {
        const l = line.replace(/\r$/, "");
        if (l.startsWith("SSH-")) return finish({ state: "ssh", banner: printable(l) });
      }
      if (buf.length > MAX_BANNER_BYTES || lines.length >= MAX_BANNER_LINES)
        finish({ state: "not-ssh", banner: printable(buf) });
    });
    sock.on("error", (e: NodeJS.ErrnoException) =>
      finish({ state: e.code === "ETIMEDOUT" ? "no-answer" : "closed", error: e.code ?? e.message }),
    );
    sock.on("close", () =>
      finish(
        buf
          ? { state: "not-ssh", banner: printable(buf) }
          : { state: "not-ssh", error: "open, but closed without a word" },
      ),
    );
  });
}

function presentedKey(
  address: string,
  port: number,
  algorithms: string[],
  timeoutMs: number,
): Promise<{ key: Buffer } | { error: string }> {
  return new Promise((resolve) => {
    const client = new Client();
    let key: Buffer | undefined;
    let settled = false;
    const finish = (r: { key: Buffer } | { error: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      resolve(r);
    };
    client.on("error", (e: Error) => finish(key ? { key } : { error: e.message }));
    client.on("close", () => finish(key ? { key } : { error: "connection closed during key exchange" }));
    client.on("ready", () => finish(key ? { key } : { error: "no host key seen" }));
    client.connect({
      host: address,
      port,
      username: "opsc-discover",
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: algorithms as never },
      hostVerifier: (k: Buffer): boolean => {
        key = Buffer.from(k);
        // Refusing the key ends the handshake before any authentication is attempted.
        return false;
      },
    });
  });
}

/** A banner as text that is safe to print and store: printable ASCII, one line, bounded. */
function printable(s: string): string {
  const line = s.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  return line.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}
