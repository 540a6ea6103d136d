/**
 * Planned targets over SSH to the test sshd (sshd.ts): its client key parsed,
 * and the engine's `transportFor` that connects each target with it.
 */
import { utils, type ParsedKey } from "ssh2";
import type { PlannedTarget } from "../../src/core/plan-model.js";
import { SshTransport, type SshTransportOptions } from "../../src/transports/ssh-transport.js";
import type { Sshd } from "./sshd.js";

/** The sshd's (unencrypted) client key, parsed. */
export function clientKey(sshd: Sshd): ParsedKey {
  const parsed = utils.parseKey(sshd.clientKey);
  if (parsed instanceof Error) throw parsed;
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

/** Each planned target over SSH as its plan says (host, port, user, host keys), logging in with `key`. */
export function sshTransportFor(
  key: ParsedKey,
  options: Partial<Omit<SshTransportOptions, "name" | "host" | "port" | "user" | "hostKeys" | "auth">> = {},
): (t: PlannedTarget) => SshTransport {
  return (t) =>
    new SshTransport({
      name: t.name,
      host: t.host!,
      port: t.port,
      user: t.user!,
      hostKeys: t.hostKeys,
      auth: { privateKey: key },
      ...options,
    });
}
