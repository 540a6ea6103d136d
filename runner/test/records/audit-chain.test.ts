import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/core/run-summary.js";
import {
  buildAuditEntry,
  fileManifest,
  GENESIS,
  hashLine,
  rechainAuditLine,
  renderAuditLine,
  sha256Hex,
  verifyAuditChain,
  type ChainHead,
  type RunRecordHash,
} from "../../src/records/audit-chain.js";
import { exportAudit } from "../../src/records/audit-export.js";
import { canonicalJson } from "../../src/core/canonical-json.js";
import { auditFile, runDir, targetLogPath } from "../../src/records/record-paths.js";
import { renderRunReadme } from "../../src/records/render-readme.js";
import { parseRunJson, renderRunJson } from "../../src/records/render-run-json.js";

function summary(n: number, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    id: `20261122T0315${String(n % 60).padStart(2, "0")}Z-job-${(0x1000 + n).toString(16)}`,
    job: "job",
    result: "success",
    startedAt: "2026-11-22T03:15:00.000Z",
    finishedAt: "2026-11-22T03:15:02.500Z",
    trigger: { kind: "manual", actor: "alice" },
    actor: "alice",
    inputs: { n },
    checkMode: false,
    targets: [
      {
        name: "web-1",
        phase: "main",
        outcome: "ok",
        ms: 2500,
        steps: [{ id: "s", outcome: "ok", ms: 2400, attempts: 1 }],
      },
    ],
    counts: { ok: 1, changed: 0, failed: 0, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 },
    ...extra,
  };
}

/** A valid trail of n runs in one file, with the run.json hash of each. */
function trail(n: number) {
  let head: ChainHead | null = null;
  const lines: string[] = [];
  const runs: RunRecordHash[] = [];
  for (let i = 0; i < n; i++) {
    const s = summary(i);
    const runJson = renderRunJson(s);
    const files = [
      { path: "run.json", content: runJson },
      { path: "targets/web-1.log", content: `log ${i}\n` },
    ];
    const line = renderAuditLine(buildAuditEntry(s, files, head, new Date("2026-11-22T04:00:00Z")));
    lines.push(line);
    runs.push({ id: s.id, sha256: sha256Hex(runJson), files: fileManifest(files) });
    head = { hash: hashLine(line), seq: i + 1 };
  }
  return {
    lines,
    runs,
    file: (ls: string[]) => [{ path: "audit/2026/11.jsonl", text: ls.map((l) => `${l}\n`).join("") }],
  };
}

describe("canonical JSON", () => {
  it("sorts keys at every depth, drops undefined, and ignores insertion order", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(JSON.parse(canonicalJson(obj))).toEqual(JSON.parse(JSON.stringify(obj)));
      }),
    );
  });
});

describe("the audit chain", () => {
  it("starts at the genesis hash and links each line to the sha256 of the one before", () => {
    const { lines } = trail(3);
    const entries = lines.map((l) => JSON.parse(l) as { seq: number; prev: string });
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]?.prev).toBe(GENESIS);
    expect(entries[2]?.prev).toBe(sha256Hex(lines[1] ?? ""));
  });

  it("verifies an intact trail", () => {
    const { lines, runs, file } = trail(5);
    expect(verifyAuditChain(file(lines), runs)).toMatchObject({
      ok: true,
      lines: 5,
      head: { seq: 5, hash: hashLine(lines[4] ?? "") },
    });
  });

  it("any change to a line but the last is caught at that line or the next", () => {
    const { lines, runs, file } = trail(6);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }),
        (index, at, ch) => {
          const line = lines[index] ?? "";
          const pos = at % line.length;
          fc.pre(line[pos] !== ch);
          const changed = [...lines];
          changed[index] = line.slice(0, pos) + ch + line.slice(pos + 1);
          const v = verifyAuditChain(file(changed), runs);
          expect(v.ok).toBe(false);
          expect([index + 1, index + 2]).toContain(v.firstBreak?.line);
        },
      ),
    );
  });

  it("names a removed line, a duplicated run, a missing run directory and a changed run.json", () => {
    const { lines, runs, file } = trail(4);
    expect(
      verifyAuditChain(file([lines[0] ?? "", lines[2] ?? "", lines[3] ?? ""]), runs).firstBreak,
    ).toMatchObject({
      line: 2,
      message: expect.stringContaining("changed or removed"),
    });
    expect(verifyAuditChain(file(lines.slice(1)), runs).firstBreak?.message).toContain(
      "lines before it were removed",
    );
    expect(verifyAuditChain(file(lines), runs.slice(1)).firstBreak?.message).toMatch(
      /run directory of .* is missing/,
    );
    const tampered = runs.map((r, i) => (i === 2 ? { ...r, sha256: sha256Hex("other") } : r));
    expect(verifyAuditChain(file(lines), tampered).firstBreak).toMatchObject({
      line: 3,
      message: expect.stringContaining("does not match"),
    });
    expect(
      verifyAuditChain([{ path: "audit/2026/11.jsonl", text: lines.join("\n") }], runs).firstBreak?.message,
    ).toContain("newline");
  });

  it("vouches for every file of a run folder: a changed, removed or added file is named", () => {
    const { lines, runs, file } = trail(3);
    const id = runs[1]?.id ?? "";
    const withFiles = (files: Record<string, string>) =>
      runs.map((r, i) => (i === 1 ? { ...r, files: { ...files, "run.json": r.sha256 } } : r));
    const log = runs[1]?.files?.["targets/web-1.log"] ?? "";
    expect(
      verifyAuditChain(file(lines), withFiles({ "targets/web-1.log": sha256Hex("x") })).firstBreak,
    ).toEqual({
      file: `${runDir(id)}/targets/web-1.log`,
      line: 0,
      message: "changed after its audit line (audit/2026/11.jsonl:2) was written",
    });
    expect(verifyAuditChain(file(lines), withFiles({})).firstBreak?.message).toMatch(/^removed after/);
    expect(
      verifyAuditChain(file(lines), withFiles({ "targets/web-1.log": log, "README.md": sha256Hex("") }))
        .firstBreak,
    ).toMatchObject({ file: `${runDir(id)}/README.md`, message: expect.stringMatching(/^added after/) });
    expect(verifyAuditChain(file(lines), withFiles({ "targets/web-1.log": log }))).toMatchObject({
      ok: true,
      withoutManifest: 0,
    });
  });

  it("lets a line written before format 2 vouch for its run.json only, and counts it", () => {
    const { runs } = trail(1);
    const s = summary(0);
    const v1 = {
      ...buildAuditEntry(s, [{ path: "run.json", content: renderRunJson(s) }], null, new Date()),
      v: 1,
    };
    delete v1.files;
    const line = renderAuditLine(v1);
    const extra = runs.map((r) => ({ ...r, files: { ...r.files, "targets/added.log": sha256Hex("x") } }));
    const file = [{ path: "audit/2026/11.jsonl", text: `${line}\n` }];
    expect(verifyAuditChain(file, extra)).toMatchObject({ ok: true, lines: 1, withoutManifest: 1 });
    const changed = runs.map((r) => ({ ...r, sha256: sha256Hex("other") }));
    expect(verifyAuditChain(file, changed).firstBreak?.message).toContain("does not match");
  });

  it("continues across month files in order", () => {
    const { lines, runs } = trail(3);
    const files = [
      { path: "audit/2026/12.jsonl", text: `${lines[2]}\n` },
      { path: "audit/2026/11.jsonl", text: `${lines[0]}\n${lines[1]}\n` },
    ];
    expect(verifyAuditChain(files, runs).ok).toBe(true);
  });

  it("re-chains a line onto another head, keeping everything but prev, seq and at", () => {
    const { lines } = trail(2);
    const moved = rechainAuditLine(
      lines[1] ?? "",
      { hash: "f".repeat(64), seq: 41 },
      new Date("2026-11-23T00:00:00Z"),
    );
    const before = JSON.parse(lines[1] ?? "") as Record<string, unknown>;
    const after = JSON.parse(moved) as Record<string, unknown>;
    expect(after).toEqual({ ...before, prev: "f".repeat(64), seq: 42, at: "2026-11-23T00:00:00.000Z" });
    expect(canonicalJson(after)).toBe(moved);
  });
});

describe("record rendering", () => {
  it("run.json round-trips and names its schema", () => {
    const s = summary(1, { sourceCommit: "c".repeat(40), lastFinishedStep: undefined });
    const text = renderRunJson(s);
    expect(JSON.parse(text).$schema).toBe("https://opsconductor.dev/schema/run.schema.json");
    expect(parseRunJson(text)).toEqual(JSON.parse(JSON.stringify(s)));
  });

  it("README.md has a facts table and a targets x steps table that escapes pipes", () => {
    const s = summary(1, {
      result: "failure",
      targets: [
        {
          name: "web-1",
          phase: "main",
          outcome: "failed",
          ms: 65_000,
          reason: "exit 1 | boom",
          steps: [
            { id: "install", outcome: "ok", ms: 300, attempts: 1 },
            { id: "reload", outcome: "failed", ms: 64_000, attempts: 3, exitCode: 1 },
          ],
        },
        {
          name: "db/primary",
          phase: "main",
          outcome: "ok",
          ms: 1000,
          steps: [{ id: "install", outcome: "changed", ms: 1000, attempts: 1 }],
        },
      ],
      counts: { ok: 1, changed: 0, failed: 1, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 },
    });
    const md = renderRunReadme(s);
    expect(md).toMatch(/^# ❌ job: failure \(1\/2\)\n/);
    expect(md).toContain("| Trigger | manual by `alice` |");
    expect(md).toContain("| Target | Outcome | `install` | `reload` |");
    expect(md).toContain(
      "| [web-1](targets/web-1.log) | ❌ failed 1m 05s<br>exit 1 \\| boom | ✅ ok 300 ms | ❌ failed 1m 04s ×3 |",
    );
    expect(md).toContain("| [db/primary](targets/db/primary.log) | ✅ ok 1.0 s | 🔄 changed 1.0 s |  |");
  });

  it("paths follow the run id, and target names cannot climb out", () => {
    expect(runDir("20261122T031500Z-patch-web-7f3a")).toBe("runs/2026/11/22/20261122T031500Z-patch-web-7f3a");
    expect(() => runDir("../../etc")).toThrow(/is not a run id/);
    expect(auditFile(new Date("2026-01-31T23:59:59Z"))).toBe("audit/2026/01.jsonl");
    expect(targetLogPath("../../x")).toBe("targets/x.log");
  });
});

describe("audit export", () => {
  it("keeps JSON Lines byte for byte and defuses spreadsheet formulas in CSV", () => {
    let head: ChainHead | null = null;
    const lines: string[] = [];
    for (const [i, actor] of ['=HYPERLINK("http://x")', "bob"].entries()) {
      const s = summary(i, {
        actor,
        trigger: { kind: "api", actor },
        finishedAt: `2026-11-2${i + 1}T00:00:00.000Z`,
      });
      const line = renderAuditLine(
        buildAuditEntry(s, [{ path: "run.json", content: renderRunJson(s) }], head, new Date()),
      );
      lines.push(line);
      head = { hash: hashLine(line), seq: i + 1 };
    }
    const files = [{ path: "audit/2026/11.jsonl", text: lines.map((l) => `${l}\n`).join("") }];
    expect(exportAudit(files, { format: "jsonl" })).toBe(files[0]?.text);
    const csv = exportAudit(files, { format: "csv" }).split("\r\n");
    expect(csv[1]).toContain(`,"'=HYPERLINK(""http://x"")",api,`);
    expect(csv[1]?.endsWith(`,${hashLine(lines[0] ?? "")}`)).toBe(true);
    expect(exportAudit(files, { format: "jsonl", since: new Date("2026-11-22T00:00:00Z") })).toBe(
      `${lines[1]}\n`,
    );
  });
});
