/**
 * pino logs for the server: JSON lines for machines, and a short readable line
 * when stdout is a terminal. Every line passes through the Redactor on its way
 * out, whatever a caller put in it.
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
          const masked = options.redactor.redact(line);
          return pretty ? prettyLine(masked) : masked;
        },
      },
    },
    dest as pino.DestinationStream,
  );
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
