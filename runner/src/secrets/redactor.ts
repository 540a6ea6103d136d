/**
 * The one place secret values are masked. Every output (logs, records, errors,
 * notifications, HTTP responses) passes through a Redactor.
 *
 * A multi-line value is also registered line by line, so that a script echoing
 * one line of a private key is masked too.
 */
export const MASK = "***";

/** Lines shorter than this are too common to mask on their own (`{`, `---`). */
const MIN_LINE_LENGTH = 4;

export class Redactor {
  private readonly values = new Set<string>();
  private pattern: RegExp | null = null;

  /** Registers a secret value. Empty values are ignored; they cannot leak. */
  add(value: string): void {
    if (value === "") return;
    const before = this.values.size;
    this.values.add(value);
    if (value.includes("\n") || value.includes("\r")) {
      for (const line of value.split(/\r?\n|\r/)) {
        const trimmed = line.trim();
        if (trimmed.length >= MIN_LINE_LENGTH) this.values.add(trimmed);
      }
    }
    if (this.values.size !== before) this.pattern = null;
  }

  get size(): number {
    return this.values.size;
  }

  /** Longest first, so a value that contains another is masked whole. */
  private regex(): RegExp | null {
    if (this.values.size === 0) return null;
    if (!this.pattern) {
      const sorted = [...this.values].sort((a, b) => b.length - a.length);
      this.pattern = new RegExp(sorted.map(escapeRegExp).join("|"), "g");
    }
    return this.pattern;
  }

  redact(text: string): string {
    const re = this.regex();
    return re ? text.replace(re, MASK) : text;
  }

  /** Masks every string inside a JSON-like value. */
  redactDeep<T>(value: T): T {
    if (typeof value === "string") return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.redactDeep(v);
      return out as T;
    }
    return value;
  }

  /**
   * A line splitter that masks complete lines. Output arrives in chunks that can
   * split a secret anywhere; holding back the unfinished line means a value is
   * always seen whole before anything is emitted.
   */
  lineSplitter(emit: (line: string) => void): { write(chunk: string): void; end(): void } {
    let pending = "";
    return {
      write: (chunk: string) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl).replace(/\r$/, "");
          pending = pending.slice(nl + 1);
          emit(this.redact(line));
        }
      },
      end: () => {
        if (pending !== "") emit(this.redact(pending.replace(/\r$/, "")));
        pending = "";
      },
    };
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
