/**
 * The review of a change for people (markdown: the job summary and the
 * pull-request comment) and machines (json). Pure. Values shown are the ones
 * written in the repository; credentials appear by reference name only.
 */
import type { AccessDiff, RoleGrant } from "./diff-access.js";
import type { FieldChange, JobDiff, LibraryDiff, RepoDiff, ScheduleSide } from "./diff-repos.js";

export type DiffFormat = "markdown" | "json";
export const DIFF_FORMATS: readonly DiffFormat[] = ["markdown", "json"];

/** One side of the review: the commit read and how many validation errors it has. */
export interface ReviewSide {
  commit: string;
  errors: number;
}

export interface Review {
  base: ReviewSide;
  head: ReviewSide;
  diff: RepoDiff;
}

export function renderReview(review: Review, format: DiffFormat): string {
  if (format === "json")
    return `${JSON.stringify({ base: review.base, head: review.head, ...review.diff }, null, 2)}\n`;
  return renderMarkdown(review);
}

const short = (sha: string): string => sha.slice(0, 12);

function renderMarkdown({ base, head, diff }: Review): string {
  const lines: string[] = [];
  const touched = diff.jobs.filter((j) => j.change !== "unchanged");
  const unchanged = diff.jobs.filter((j) => j.change === "unchanged");
  lines.push("## OpsConductor: what this change does", "");
  lines.push(
    `\`${short(base.commit)}\` → \`${short(head.commit)}\`: ${count(touched.length, "job")} affected, ${unchanged.length} unchanged.`,
  );
  if (head.errors > 0) {
    lines.push(
      "",
      `> **The new version has ${count(head.errors, "validation error")}**: it cannot run until they are fixed (\`opsc validate\` lists them).`,
    );
  }
  for (const job of touched) lines.push("", ...renderJob(job));
  if (diff.credentialFiles.length > 0) {
    lines.push(
      "",
      "### Credential files",
      "",
      "| file | change | keys added | keys removed |",
      "| --- | --- | --- | --- |",
    );
    for (const c of diff.credentialFiles) {
      lines.push(`| \`${c.name}\` | ${c.change} | ${codeList(c.keysAdded)} | ${codeList(c.keysRemoved)} |`);
    }
  }
  if (diff.access) lines.push("", ...renderAccess(diff.access));
  for (const lib of diff.libraries ?? []) lines.push("", ...renderLibrary(lib));
  if (unchanged.length > 0) lines.push("", `Unchanged: ${unchanged.map((j) => `\`${j.id}\``).join(", ")}.`);
  lines.push(
    "",
    `_Nothing was decrypted and no target was contacted. Next fire times are computed from ${diff.at}._`,
  );
  return `${lines.join("\n")}\n`;
}

function renderLibrary(lib: LibraryDiff): string[] {
  const side = (s?: { ref: string; commit: string }): string =>
    s ? `${s.ref} \`${short(s.commit)}\`` : "(none)";
  const lines = [
    `### Library \`${lib.name}\` (${lib.change}): ${side(lib.before)} → ${side(lib.after)}`,
    "",
    lib.steps.length ? `${count(lib.steps.length, "step")} changed:` : "No step changed.",
  ];
  if (lib.steps.length) lines.push("", "| step | change | what |", "| --- | --- | --- |");
  const scripts: string[] = [];
  for (const s of lib.steps) {
    lines.push(`| \`${s.id}\` | ${s.change} | ${fieldsCell(s.fields)} |`);
    scripts.push(...scriptDiffs(s.id, s.fields));
  }
  return [...lines, ...scripts];
}

function renderJob(job: JobDiff): string[] {
  const lines = [`### \`${job.id}\` (${job.change})`];
  const t = job.targets;
  if (t.before !== t.after || t.added.length || t.removed.length || t.changed.length) {
    const parts: string[] = [];
    if (t.added.length) parts.push(`added ${codeList(t.added)}`);
    if (t.removed.length) parts.push(`removed ${codeList(t.removed)}`);
    lines.push("", `**Targets** ${t.before} → ${t.after}${parts.length ? `: ${parts.join("; ")}` : ""}`);
    for (const c of t.changed) lines.push(`- \`${c.name}\` changed: ${c.fields.join(", ")}`);
  }
  if (job.triggers.added.length || job.triggers.removed.length) {
    lines.push("", "**Triggers**");
    for (const x of job.triggers.added) lines.push(`- added: ${x}`);
    for (const x of job.triggers.removed) lines.push(`- removed: ${x}`);
  }
  if (job.schedules.length) {
    lines.push("", "**Schedules**", "", "| change | before | after |", "| --- | --- | --- |");
    for (const s of job.schedules)
      lines.push(`| ${s.change} | ${scheduleCell(s.before)} | ${scheduleCell(s.after)} |`);
  }
  if (job.inputs.length) {
    lines.push("", "**Inputs**", "", "| input | change | before | after |", "| --- | --- | --- | --- |");
    for (const i of job.inputs)
      lines.push(`| \`${i.name}\` | ${i.change} | ${value(i.before)} | ${value(i.after)} |`);
  }
  const scripts: string[] = [];
  if (job.steps.length) {
    lines.push("", "**Steps**", "", "| phase | step | change | what |", "| --- | --- | --- | --- |");
    for (const s of job.steps) {
      lines.push(`| ${s.phase} | \`${s.id}\` | ${s.change} | ${fieldsCell(s.fields)} |`);
      scripts.push(...scriptDiffs(`${s.phase} / ${s.id}`, s.fields));
    }
  }
  if (job.library.length) {
    lines.push("", "**Library steps it uses**", "", "| step | change | what |", "| --- | --- | --- |");
    for (const s of job.library) {
      lines.push(`| \`${s.id}\` | ${s.change} | ${fieldsCell(s.fields)} |`);
      scripts.push(...scriptDiffs(`steps/${s.id}`, s.fields));
    }
  }
  if (job.credentials.added.length || job.credentials.removed.length) {
    const parts: string[] = [];
    if (job.credentials.added.length) parts.push(`added ${codeList(job.credentials.added)}`);
    if (job.credentials.removed.length) parts.push(`removed ${codeList(job.credentials.removed)}`);
    lines.push("", `**Credentials read** (names only): ${parts.join("; ")}`);
  }
  if (job.settings.length) {
    lines.push("", "**Settings**", "", "| setting | before | after |", "| --- | --- | --- |");
    for (const f of job.settings) lines.push(`| \`${f.path}\` | ${value(f.before)} | ${value(f.after)} |`);
  }
  lines.push(...scripts);
  return lines;
}

function renderAccess(access: AccessDiff): string[] {
  const lines = [`### Access (\`access.yaml\` ${access.change})`];
  if (access.roles.length) {
    lines.push("", "| role | change | before | after |", "| --- | --- | --- | --- |");
    for (const r of access.roles)
      lines.push(`| \`${r.name}\` | ${r.change} | ${grantCell(r.before)} | ${grantCell(r.after)} |`);
  }
  if (access.members.length) {
    lines.push("", "| member | change | roles before | roles after |", "| --- | --- | --- | --- |");
    for (const m of access.members)
      lines.push(`| ${m.member} | ${m.change} | ${codeList(m.before)} | ${codeList(m.after)} |`);
  }
  return lines;
}

function grantCell(g: RoleGrant | undefined): string {
  if (!g) return "";
  const parts = [`view ${codeList(g.view) || "none"}`, `run ${codeList(g.run) || "none"}`];
  if (g.admin) parts.push("**admin**");
  return parts.join("<br>");
}

function scheduleCell(s: ScheduleSide | undefined): string {
  if (!s) return "";
  const next = s.next.map((iso) => localTime(iso, s.timezone)).join(", ");
  return `\`${s.cron}\` ${s.timezone}${s.catchUp !== "none" ? ` (catch up: ${s.catchUp})` : ""}<br>next: ${next || "never"}`;
}

/** `Mon 2026-11-23 03:00` in the schedule's own time zone, as a reviewer reads a crontab. */
export function localTime(iso: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "short",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("weekday")} ${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

const SCRIPT_FIELDS = new Set(["run", "check"]);

function fieldsCell(fields: FieldChange[]): string {
  return fields
    .map((f) => {
      if (SCRIPT_FIELDS.has(f.path) || /\.(run|check)$/.test(f.path)) {
        const verb = f.before === undefined ? "added" : f.after === undefined ? "removed" : "changed";
        return `\`${f.path}\` ${verb} (below)`;
      }
      if (f.before === undefined) return `\`${f.path}\`: ${value(f.after)}`;
      if (f.after === undefined) return `\`${f.path}\`: ~~${value(f.before)}~~`;
      return `\`${f.path}\`: ${value(f.before)} → ${value(f.after)}`;
    })
    .join("<br>");
}

function scriptDiffs(title: string, fields: FieldChange[]): string[] {
  const out: string[] = [];
  for (const f of fields) {
    if (!(SCRIPT_FIELDS.has(f.path) || /\.(run|check)$/.test(f.path))) continue;
    const before = typeof f.before === "string" ? f.before : "";
    const after = typeof f.after === "string" ? f.after : "";
    out.push(
      "",
      `<details><summary><code>${escapeHtml(title)}</code>: <code>${escapeHtml(f.path)}</code></summary>`,
      "",
    );
    out.push(fence(lineDiff(before, after).join("\n"), "diff"), "", "</details>");
  }
  return out;
}

/** A fenced block whose fence is longer than any backtick run inside it. */
function fence(text: string, lang: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const bar = "`".repeat(longest + 1);
  return `${bar}${lang}\n${text}\n${bar}`;
}

/** A line diff (longest common subsequence) of two short scripts, `-`/`+`/` ` prefixed. */
export function lineDiff(before: string, after: string): string[] {
  const a = before === "" ? [] : before.replace(/\n$/, "").split("\n");
  const b = after === "" ? [] : after.replace(/\n$/, "").split("\n");
  // Scripts are short; past this size a whole replacement is still correct, just less precise.
  if (a.length * b.length > 250_000) return [...a.map((l) => `-${l}`), ...b.map((l) => `+${l}`)];
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(` ${a[i]}`);
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`-${a[i]}`);
      i++;
    } else {
      out.push(`+${b[j]}`);
      j++;
    }
  }
  return out;
}

function value(v: unknown): string {
  if (v === undefined) return "";
  return inlineCode(typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v));
}

function inlineCode(text: string): string {
  const safe = text.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return safe.includes("`") ? `\`\` ${safe} \`\`` : `\`${safe}\``;
}

function codeList(items: string[]): string {
  return items.map((x) => `\`${x}\``).join(", ");
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
