/**
 * `opsc targets check`: connect (verifying the host key), run `true`, time both.
 * Each target is checked alone; one failing never stops the others.
 */
import { errorText } from "../core/error-text.js";
import { boundedPool } from "../core/bounded-pool.js";
import { isOpscError } from "../core/errors.js";
import type { PlannedTarget } from "../core/plan-model.js";
import { buildStepScript } from "./script-builder.js";
import type { Transport } from "./transport.js";

export interface TargetCheck {
  target: string;
  address: string;
  ok: boolean;
  connectMs?: number;
  execMs?: number;
  /** Stable error code (`ssh.host-key-mismatch`, `ssh.unreachable`, ...) when not ok. */
  code?: string;
  message?: string;
}

export async function checkTargets(
  targets: PlannedTarget[],
  transportFor: (t: PlannedTarget) => Transport,
  options: { parallel?: number; timeoutMs?: number } = {},
): Promise<TargetCheck[]> {
  return boundedPool(targets, options.parallel ?? 20, (t) =>
    checkOne(t, transportFor, options.timeoutMs ?? 10_000),
  );
}

async function checkOne(
  target: PlannedTarget,
  transportFor: (t: PlannedTarget) => Transport,
  timeoutMs: number,
): Promise<TargetCheck> {
  const address =
    target.transport === "local"
      ? "local"
      : `${target.user ? `${target.user}@` : ""}${target.host ?? "?"}:${target.port}`;
  let transport: Transport | undefined;
  const connectBy = AbortSignal.timeout(timeoutMs);
  try {
    transport = transportFor(target);
    const c0 = performance.now();
    await transport.connect(connectBy);
    const connectMs = Math.round(performance.now() - c0);
    const script = buildStepScript({ shell: target.shell, env: {}, mode: "run", run: "true" });
    const e0 = performance.now();
    let stderr = "";
    const r = await transport.exec({
      script: script.text,
      shell: target.shell,
      timeoutMs,
      onStdout: () => undefined,
      onStderr: (b) => {
        stderr += b.toString("utf8");
      },
    });
    const execMs = Math.round(performance.now() - e0);
    if (r.exitCode !== 0) {
      const why = r.timedOut
        ? `\`true\` did not finish within ${timeoutMs} ms`
        : `\`true\` exited ${r.exitCode}: ${stderr.trim().split("\n")[0] ?? ""}`;
      return {
        target: target.name,
        address,
        ok: false,
        connectMs,
        execMs,
        code: "check.exec-failed",
        message: why,
      };
    }
    return { target: target.name, address, ok: true, connectMs, execMs };
  } catch (e) {
    // A host that accepts the connection and then says nothing: the deadline cut the handshake short.
    if (connectBy.aborted && isOpscError(e) && e.code === "ssh.cancelled")
      return {
        target: target.name,
        address,
        ok: false,
        code: "ssh.unreachable",
        message: `target ${target.name}: ${address} did not finish connecting within ${timeoutMs} ms`,
      };
    return {
      target: target.name,
      address,
      ok: false,
      code: isOpscError(e) ? e.code : "check.failed",
      message: errorText(e),
    };
  } finally {
    await transport?.close().catch(() => undefined);
  }
}
