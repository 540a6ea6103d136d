/**
 * pino logs for the server: JSON lines for machines, and a short readable line
 * when stdout is a terminal. Every string value of every line passes through
 * the Redactor on its way out, whatever a caller put in it. The values, not the
 * serialized line: a secret like `3` or `"` must not break the JSON.
 */
import { pino, type Logger } from "pino";
import type { Redactor } from "../secrets/redactor.js";

export interface LoggerOptions {
  redactor: Redactor;
  level?: string;
  /** Readable lines instead of JSON; default: whether the destination is a terminal. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createLogger(options: LoggerOptions): Logger {
  const dest = options.destination ?? process.stdout;
  const pretty = options.pretty ?? dest.isTTY === true;
  return pino(
    {
      level: options.level ?? process.env.OPSC_LOG_LEVEL ?? "info",
      base: { app: "opsc" },
      hooks: {
        streamWrite: (line: string) => {
          const masked = maskLine(line, options.redactor);
          return pretty ? prettyLine(masked) : masked;
        },
      },
    },
    dest as pino.DestinationStream,
  );
}

function maskLine(line: string, redactor: Redactor): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    // pino writes JSON; anything else is text, and text is masked as text.
    return redactor.redact(line);
  }
  return `${JSON.stringify(redactor.redactDeep(parsed))}\n`;
}

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/** `12:00:01 INFO  message  job=x runId=y` */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, msg, pid: _pid, hostname: _host, app: _app, ...rest } = o;
  const t = typeof time === "number" ? new Date(time).toISOString().slice(11, 19) : "";
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${t} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${String(msg ?? "")}${fields ? `  ${fields}` : ""}\n`;
}
