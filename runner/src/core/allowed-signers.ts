/**
 * OpenSSH allowed_signers files (ssh-keygen(1), "ALLOWED SIGNERS"): who may
 * sign approvals. One line per key: `principals [options] keytype base64 [comment]`,
 * options `namespaces="..."`, `valid-after="..."`, `valid-before="..."`. The
 * rules follow ssh-keygen's, so `ssh-keygen -Y verify -f FILE` gives the same
 * answer offline. Certificate authorities (`cert-authority`) are not supported.
 */
import { SshSigError, publicKeyObject, keyType } from "./sshsig.js";

export interface AllowedSigner {
  /** The principals field as written (`alice@example.com` or `alice,alice@corp`): the signer's name. */
  principals: string;
  /** Namespace patterns the key may sign in; absent: any. */
  namespaces?: string[];
  validAfter?: Date;
  validBefore?: Date;
  /** SSH wire blob. */
  publicKey: Buffer;
  /** 1-based line in the file. */
  line: number;
}

export interface SignersProblem {
  line: number;
  col: number;
  message: string;
}

const KEY_TYPE = /^(ssh-|ecdsa-|sk-)/;

interface Token {
  text: string;
  col: number;
}

/** Splits at whitespace outside double quotes, like ssh's option scanner. */
function tokens(line: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === " " || line[i] === "\t")) i++;
    if (i >= line.length) break;
    const start = i;
    let quoted = false;
    while (i < line.length && (quoted || (line[i] !== " " && line[i] !== "\t"))) {
      if (line[i] === '"') quoted = !quoted;
      i++;
    }
    out.push({ text: line.slice(start, i), col: start + 1 });
  }
  return out;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (text[i] === sep && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * `YYYYMMDD[HHMM[SS]]`, UTC with a trailing `Z`, else the verifying machine's
 * local time (as ssh-keygen reads it).
 */
function parseSignerTime(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/i.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => (v === undefined ? 0 : Number(v))) as number[];
  const utc = m[7] !== "";
  const date = utc
    ? new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!))
    : new Date(y!, mo! - 1, d!, h!, mi!, s!);
  // Date rolls 20261340 over into another day; a wrong date is a mistake, not a date.
  const back = utc
    ? [
        date.getUTCFullYear(),
        date.getUTCMonth() + 1,
        date.getUTCDate(),
        date.getUTCHours(),
        date.getUTCMinutes(),
      ]
    : [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes()];
  if (back.join() !== [y, mo, d, h, mi].join() || s! > 59) return undefined;
  return date;
}

export function parseAllowedSigners(text: string): { signers: AllowedSigner[]; problems: SignersProblem[] } {
  const signers: AllowedSigner[] = [];
  const problems: SignersProblem[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/\r$/, "");
    const toks = tokens(content);
    if (toks.length === 0 || toks[0]!.text.startsWith("#")) return;
    const problem = (col: number, message: string) => problems.push({ line, col, message });
    const principals = toks[0]!.text.replace(/^"(.*)"$/, "$1");
    if (principals === "" || toks.length < 3) {
      problem(toks[0]!.col, "expected `principals [options] keytype base64-key`");
      return;
    }
    let at = 1;
    const entry: Partial<AllowedSigner> = { principals, line };
    if (!KEY_TYPE.test(toks[1]!.text)) {
      const options = toks[1]!;
      at = 2;
      for (const option of splitOutsideQuotes(options.text, ",")) {
        const col = options.col + options.text.indexOf(option);
        const m = /^([a-z-]+)(?:="([^"]*)")?$/i.exec(option);
        const name = m?.[1]?.toLowerCase();
        const value = m?.[2];
        if (name === "cert-authority") {
          problem(col, "cert-authority lines are not supported: list each signer's own key");
        } else if (name === "namespaces" && value !== undefined) {
          entry.namespaces = value.split(",").filter(Boolean);
        } else if ((name === "valid-after" || name === "valid-before") && value !== undefined) {
          const date = parseSignerTime(value);
          if (!date)
            problem(col, `${name}="${value}" is not a time: use YYYYMMDD[HHMM[SS]], Z at the end for UTC`);
          else if (name === "valid-after") entry.validAfter = date;
          else entry.validBefore = date;
        } else if (name === "namespaces" || name === "valid-after" || name === "valid-before") {
          problem(col, `${option}: the value must be in double quotes, like ${name}="..."`);
        } else {
          problem(
            col,
            `unknown option "${option}" (known: namespaces="...", valid-after="...", valid-before="...")`,
          );
        }
      }
    }
    const type = toks[at];
    const b64 = toks[at + 1];
    if (!type || !b64) {
      problem(
        (type ?? toks[at - 1]!).col,
        "the key is missing: expected `keytype base64-key` after the principals and options",
      );
      return;
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64.text)) {
      problem(b64.col, "the key is not base64");
      return;
    }
    const blob = Buffer.from(b64.text, "base64");
    try {
      const inner = keyType(blob);
      if (inner !== type.text) {
        problem(type.col, `the key says ${type.text} but its data is a ${inner} key`);
        return;
      }
      publicKeyObject(blob);
    } catch (e) {
      problem(type.col, e instanceof SshSigError ? e.message : `the key does not parse`);
      return;
    }
    if (problems.some((p) => p.line === line)) return;
    signers.push({ ...(entry as AllowedSigner), publicKey: blob });
  });
  return { signers, problems };
}

/** ssh's match_pattern_list: `*` and `?` wildcards, `!` negates; a negated match wins. */
function matchPatternList(value: string, patterns: string[]): boolean {
  let matched = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    const re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
    );
    if (re.test(value)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/**
 * The lines that let `publicKey` sign in `namespace` at `now`; when none does,
 * why (no such key, wrong namespace, outside its validity window).
 */
export function signerFor(
  signers: AllowedSigner[],
  publicKey: Buffer,
  namespace: string,
  now: Date,
): { signer: AllowedSigner } | { refused: string } {
  const lines = signers.filter((s) => s.publicKey.equals(publicKey));
  if (lines.length === 0) return { refused: "the key is not in the signers file" };
  const reasons: string[] = [];
  for (const s of lines) {
    if (s.namespaces && !matchPatternList(namespace, s.namespaces)) {
      reasons.push(`line ${s.line} does not allow namespace ${namespace}`);
    } else if (s.validAfter && now < s.validAfter) {
      reasons.push(`line ${s.line} is valid only after ${s.validAfter.toISOString()}`);
    } else if (s.validBefore && now > s.validBefore) {
      reasons.push(`line ${s.line} expired at ${s.validBefore.toISOString()}`);
    } else {
      return { signer: s };
    }
  }
  return { refused: reasons.join("; ") };
}
