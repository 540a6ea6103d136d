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

  it("writes one readable line on a terminal", () => {
    const { out, logger } = capture(true);
    logger.warn({ job: "deploy", secret: "s3cr3t-value" }, "tick missed");
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}tick missed {2}job=deploy secret=\*\*\*\n$/);
  });
});
