/**
 * The one place secret values are masked. Masking applies to output text (step
 * output lines, error messages, notification text, log field values), never to
 * structure (run ids, timestamps, keys, numbers): a record or a log line keeps
 * its shape whatever the secrets are.
 *
 * A multi-line value is also registered line by line, so that a script echoing
 * one line of a private key is masked too.
 *
 * Short values (`1`, `x`, `true`) are everywhere as substrings of ordinary text;
 * masking them inside words and numbers would mask nothing secret and garble
 * everything. A value shorter than SHORT_VALUE_LENGTH is masked only as a whole
 * token: where it is not touching a letter, a digit or `_` on either side. So
 * `1` is masked in `code=1`, `1 file` and a line that is just `1`, but not in `2026` or `x1`.
 */
export const MASK = "***";

/** Values shorter than this are masked only as whole tokens. Documented in docs/secrets.md. */
export const SHORT_VALUE_LENGTH = 8;

/** Lines of a multi-line value shorter than this are too common to mask on their own (`{`, `---`). */
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
      const parts = sorted.map((v) =>
        v.length < SHORT_VALUE_LENGTH
          ? `(?<![\\p{L}\\p{N}_])${escapeRegExp(v)}(?![\\p{L}\\p{N}_])`
          : escapeRegExp(v),
      );
      this.pattern = new RegExp(parts.join("|"), "gu");
    }
    return this.pattern;
  }

  /** Masks a piece of output text. Never pass a serialized record or JSON: mask its text fields. */
  redact(text: string): string {
    const re = this.regex();
    return re ? text.replace(re, MASK) : text;
  }

  /** Masks every string value inside a JSON-like value; keys are structure and stay. */
  redactDeep<T>(value: T): T {
    if (typeof value === "string") return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redactDeep(v);
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
