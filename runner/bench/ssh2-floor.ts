/**
 * The floor every SSH figure is a ratio to: plain ssh2, one connection per
 * host, the commands exec'd one after another on it, all hosts at once. The
 * fan-out bench runs it in its own (warm) process; the start-up bench also
 * runs it as a process of its own (ssh2-floor-process.ts), start-up included.
 */
import net from "node:net";
import ssh2, { type ParsedKey } from "ssh2";

export interface FloorHost {
  host: string;
  port: number;
  user: string;
  key: ParsedKey;
}

export async function floor(hosts: readonly FloorHost[], commands: readonly string[]): Promise<void> {
  await Promise.all(
    hosts.map(async ({ host, port, user, key }) => {
      const sock = net.connect({ host, port, noDelay: true });
      await new Promise<void>((res, rej) => sock.once("connect", () => res()).once("error", rej));
      const client = new ssh2.Client();
      await new Promise<void>((res, rej) => {
        client.once("ready", () => res()).once("error", rej);
        client.connect({
          sock,
          username: user,
          authHandler: [{ type: "publickey", username: user, key }] as never,
          algorithms: { serverHostKey: ["ssh-ed25519"], kex: ["curve25519-sha256"] } as never,
          hostVerifier: () => true,
        });
      });
      for (const c of commands) {
        await new Promise<void>((res, rej) =>
          client.exec(c, (err, ch) => {
            if (err) return rej(err);
            ch.on("close", () => res()).resume();
            ch.stderr.resume();
          }),
        );
      }
      client.end();
    }),
  );
}

/** A private key in OpenSSH or PEM form, parsed. */
export function parsedKey(text: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) throw parsed;
  return (Array.isArray(parsed) ? parsed[0] : parsed) as ParsedKey;
}
