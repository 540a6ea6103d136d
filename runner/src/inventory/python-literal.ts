/**
 * Python's `ast.literal_eval`, for the values Ansible's INI inventory reads with
 * it: numbers (`0x1F`, `0o17`, `0b101`, `1_000`, `1e3`, `-5`), strings (with
 * escapes; adjacent ones concatenated), `True`/`False`/`None`, lists, tuples
 * (as lists, as JSON shows them), dicts and sets. Anything else is not a literal
 * and Ansible keeps the text as it is: so does this (undefined). Pure.
 */

export function pythonLiteral(text: string): { value: unknown } | undefined {
  const p = new Parser(text);
  try {
    p.skip();
    const value = p.value();
    p.skip();
    return p.done() ? { value } : undefined;
  } catch (e) {
    if (e instanceof NotLiteral) return undefined;
    throw e;
  }
}

class NotLiteral extends Error {}

const NUMBER =
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.)(?![\w.])/;

class Parser {
  private at = 0;
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.at >= this.s.length;
  }

  skip(): void {
    while (this.at < this.s.length && /[ \t]/.test(this.s[this.at]!)) this.at++;
  }

  private eat(c: string): boolean {
    this.skip();
    if (this.s[this.at] === c) {
      this.at++;
      return true;
    }
    return false;
  }

  value(): unknown {
    this.skip();
    const c = this.s[this.at];
    if (c === undefined) throw new NotLiteral();
    if (c === "[") return this.sequence("[", "]");
    if (c === "(") return this.sequence("(", ")");
    if (c === "{") return this.mapping();
    if (c === "'" || c === '"' || (/[rRbBuU]/.test(c) && /['"]/.test(this.s[this.at + 1] ?? ""))) {
      let out = this.string();
      for (;;) {
        this.skip();
        const n = this.s[this.at];
        if (n === "'" || n === '"') out += this.string();
        else break;
      }
      return out;
    }
    if (c === "-" || c === "+") {
      this.at++;
      const v = this.value();
      if (typeof v !== "number") throw new NotLiteral();
      return c === "-" ? -v : v;
    }
    const word = /^[A-Za-z_]\w*/.exec(this.s.slice(this.at))?.[0];
    if (word !== undefined) {
      this.at += word.length;
      if (word === "True") return true;
      if (word === "False") return false;
      if (word === "None") return null;
      throw new NotLiteral();
    }
    const m = NUMBER.exec(this.s.slice(this.at));
    if (!m) throw new NotLiteral();
    this.at += m[0].length;
    if (/[jJ]/.test(this.s[this.at] ?? "")) throw new NotLiteral(); // complex: no JSON form
    return numberOf(m[0]);
  }

  private sequence(open: string, close: string): unknown {
    this.at++;
    const out: unknown[] = [];
    for (;;) {
      if (this.eat(close)) break;
      out.push(this.value());
      if (this.eat(",")) continue;
      if (!this.eat(close)) throw new NotLiteral();
      // `(1)` is 1 in Python; only the comma makes a tuple.
      if (open === "(" && out.length === 1) return out[0];
      break;
    }
    return out;
  }

  private mapping(): unknown {
    this.at++;
    if (this.eat("}")) return {};
    const first = this.value();
    if (this.eat(":")) {
      const out: Record<string, unknown> = {};
      let key = first;
      for (;;) {
        if (typeof key === "object" && key !== null) throw new NotLiteral(); // unhashable
        out[String(key)] = this.value();
        if (this.eat("}")) return out;
        if (!this.eat(",")) throw new NotLiteral();
        if (this.eat("}")) return out;
        key = this.value();
        if (!this.eat(":")) throw new NotLiteral();
      }
    }
    const set = [first]; // a set: JSON shows it as a list
    for (;;) {
      if (this.eat("}")) return set;
      if (!this.eat(",")) throw new NotLiteral();
      if (this.eat("}")) return set;
      set.push(this.value());
    }
  }

  private string(): string {
    let raw = false;
    while (/[rRbBuU]/.test(this.s[this.at] ?? "")) {
      if (/[rR]/.test(this.s[this.at]!)) raw = true;
      this.at++;
    }
    const q = this.s[this.at]!;
    const triple = this.s.startsWith(q.repeat(3), this.at);
    const end = triple ? q.repeat(3) : q;
    this.at += end.length;
    let out = "";
    for (;;) {
      if (this.at >= this.s.length) throw new NotLiteral();
      if (this.s.startsWith(end, this.at)) {
        this.at += end.length;
        return out;
      }
      const c = this.s[this.at]!;
      if (c === "\\" && !raw) {
        const n = this.s[this.at + 1] ?? "";
        const simple: Record<string, string> = {
          n: "\n",
          t: "\t",
          r: "\r",
          "\\": "\\",
          "'": "'",
          '"': '"',
          a: "\x07",
          b: "\b",
          f: "\f",
          v: "\v",
          "0": "\0",
          "\n": "",
        };
        const hex = /^(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})/.exec(this.s.slice(this.at + 1))?.[0];
        if (hex) {
          out += String.fromCodePoint(parseInt(hex.slice(1), 16));
          this.at += 1 + hex.length;
        } else if (n in simple) {
          out += simple[n];
          this.at += 2;
        } else {
          out += c; // unknown escapes stay as written, as in Python
          this.at++;
        }
        continue;
      }
      if (c === "\n" && !triple) throw new NotLiteral();
      out += c;
      this.at++;
    }
  }
}

function numberOf(text: string): number {
  const t = text.replace(/_/g, "");
  if (/^0[xX]/.test(t)) return parseInt(t.slice(2), 16);
  if (/^0[oO]/.test(t)) return parseInt(t.slice(2), 8);
  if (/^0[bB]/.test(t)) return parseInt(t.slice(2), 2);
  if (/^0\d+$/.test(t) && /[1-9]/.test(t)) throw new NotLiteral(); // `017` is a syntax error in Python 3
  return Number(t);
}
