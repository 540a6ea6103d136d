import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Redactor } from "../../src/secrets/redactor.js";
import { createLogger } from "../../src/server/server-logger.js";

function capture(pretty: boolean) {
  const out: string[] = [];
  const redactor = new Redactor();
  redactor.add("s3cr3t-value");
  const logger = createLogger({
    redactor,
    pretty,
    destination: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }),
  });
  return { out, logger };
}

describe("server logger", () => {
  it("writes JSON lines with the run's fields, secrets masked wherever they appear", () => {
    const { out, logger } = capture(false);
    logger
      .child({ job: "deploy", runId: "r1" })
      .info({ note: "token s3cr3t-value here" }, "step s3cr3t-value finished");
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      job: "deploy",
      runId: "r1",
      msg: "step *** finished",
      note: "token *** here",
    });
  });

  it("stays JSON whatever the secrets are: string values are masked, never the serialized line", () => {
    const out: string[] = [];
    const redactor = new Redactor();
    // Each of these is in every JSON log line as structure: a quote, a brace, a level, a key.
    for (const v of ['"', "{", ":", "3", "30", "level", "msg", "true"]) redactor.add(v);
    const logger = createLogger({
      redactor,
      pretty: false,
      destination: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }),
    });
    logger.info({ queued: 3, ok: true, level2: "30", note: 'say "3" {' }, "level 3 reached");
    expect(out).toHaveLength(1);
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, queued: 3, ok: true, level2: "***", msg: "*** *** reached" });
    expect(line.note).toBe('say "***" ***');
    expect(out[0]!.endsWith("\n")).toBe(true);
  });

  it("writes one readable line on a terminal", () => {
    const { out, logger } = capture(true);
    logger.warn({ job: "deploy", secret: "s3cr3t-value" }, "tick missed");
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}tick missed {2}job=deploy secret=\*\*\*\n$/);
  });
});
