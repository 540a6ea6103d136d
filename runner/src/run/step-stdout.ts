/**
 * Splits a step's stdout into what the step printed and the trailer the wrapper
 * script appends (`<marker> <kind> <rc>\n` followed by the $OPSC_OUTPUT file).
 * The marker holds a nonce the step never sees, so the step cannot forge outputs;
 * being unguessable it is recognised anywhere, even glued to a last line that
 * has no newline.
 */
import { StringDecoder } from "node:string_decoder";
import type { TrailerKind } from "../transports/script-builder.js";

export interface Trailer {
  kind: TrailerKind;
  exitCode: number;
  /** Raw content of the $OPSC_OUTPUT file. */
  outputs: string;
}

export class StepStdout {
  private readonly decoder = new StringDecoder("utf8");
  private readonly needle: string;
  private pending = "";
  private after: string | null = null;

  constructor(
    marker: string,
    private readonly onText: (text: string) => void,
  ) {
    this.needle = `${marker} `;
  }

  write(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    if (this.after !== null) {
      this.after += text;
      return;
    }
    this.pending += text;
    const at = this.pending.indexOf(this.needle);
    if (at >= 0) {
      this.onText(this.pending.slice(0, at));
      this.after = this.pending.slice(at + this.needle.length);
      this.pending = "";
      return;
    }
    // Hold back only a tail that could be the start of the marker; it holds no
    // newline, so complete lines are never delayed.
    let hold = this.pending.length;
    for (let k = Math.max(0, this.pending.length - this.needle.length + 1); k < this.pending.length; k++) {
      if (this.needle.startsWith(this.pending.slice(k))) {
        hold = k;
        break;
      }
    }
    if (hold > 0) {
      this.onText(this.pending.slice(0, hold));
      this.pending = this.pending.slice(hold);
    }
  }

  /** Flushes the step's text; returns the trailer when the wrapper got to print it. */
  end(): Trailer | undefined {
    const rest = this.decoder.end();
    if (this.after === null) {
      this.onText(this.pending + rest);
      this.pending = "";
      return undefined;
    }
    const all = this.after + rest;
    const nl = all.indexOf("\n");
    const head = nl >= 0 ? all.slice(0, nl) : all;
    const m = /^(ran|skip|check) (-?\d+)$/.exec(head);
    if (!m) return undefined;
    return { kind: m[1] as TrailerKind, exitCode: Number(m[2]), outputs: nl >= 0 ? all.slice(nl + 1) : "" };
  }
}

const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Parses $OPSC_OUTPUT: `name=value` lines, and `name<<DELIMITER` blocks for
 * multi-line values (as GitHub Actions' $GITHUB_OUTPUT). Malformed lines are ignored.
 */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc && OUTPUT_NAME.test(heredoc[1]!)) {
      const delimiter = heredoc[2]!;
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && lines[j] !== delimiter) body.push(lines[j++]!);
      if (j < lines.length) out[heredoc[1]!] = body.join("\n");
      i = j;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0 && OUTPUT_NAME.test(line.slice(0, eq))) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
