import { afterEach, describe, expect, it } from "vitest";
import { commitRecord } from "../../src/records/commit-record.js";
import { missedTickSummary } from "../../src/records/missed-tick.js";
import { notifyRun } from "../../src/notify/notifier.js";
import { previousRunResult } from "../../src/records/previous-run.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { TestRepo } from "../helpers/automation-repo.js";
import { startReceiver, type Receiver } from "./http-receiver.js";
import { summary } from "./run-summaries.js";

const TOKEN = "ghs_test-token-for-loopback-only";
let receiver: Receiver | undefined;
let repo: TestRepo | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  repo?.remove();
  repo = undefined;
});

describe("GitHub commit status", () => {
  it("POSTs the status for the run's commit with the token, to GITHUB_API_URL", async () => {
    receiver = await startReceiver(() => ({ status: 201, body: '{"state":"failure"}' }));
    const env = {
      GITHUB_TOKEN: TOKEN,
      GITHUB_REPOSITORY: "acme/ops",
      GITHUB_API_URL: `${receiver.url}/api/v3/`,
    };
    const outcomes = await notifyRun(
      [{ on: ["failure", "success"], githubStatus: true }],
      summary("failure"),
      {
        redactor: new Redactor(),
        env,
        retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 5 },
      },
    );
    expect(outcomes).toEqual([
      {
        event: "failure",
        channel: "github-status",
        to: "acme/ops@0123456789ab",
        ok: true,
        attempts: 1,
        ms: expect.any(Number),
      },
    ]);
    const req = receiver.received[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("/api/v3/repos/acme/ops/statuses/0123456789abcdef0123456789abcdef01234567");
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(req.body)).toEqual({
      state: "failure",
      context: "opsconductor/patch-web",
      description: "patch-web failed on 1 of 2 targets (web-2: install failed)",
    });
  });

  it("is skipped without a token, and reports GitHub's refusal with a masked token", async () => {
    const skipped = await notifyRun([{ on: ["success"], githubStatus: true }], summary("success"), {
      redactor: new Redactor(),
      env: {},
      log: () => undefined,
    });
    expect(skipped[0]).toMatchObject({
      ok: true,
      attempts: 0,
      skipped: expect.stringMatching(/no GitHub token/),
    });

    // A proxy that echoes the Authorization header into its error must not leak the token.
    receiver = await startReceiver((r) => ({
      status: 401,
      body: JSON.stringify({ message: `Bad credentials: ${String(r.headers.authorization)}` }),
    }));
    const logs: string[] = [];
    const failed = await notifyRun([{ on: ["success"], githubStatus: true }], summary("success"), {
      redactor: new Redactor(),
      env: { OPSC_GITHUB_TOKEN: TOKEN, GITHUB_REPOSITORY: "acme/ops", GITHUB_API_URL: receiver.url },
      log: (l) => logs.push(l),
    });
    expect(failed[0]).toMatchObject({
      ok: false,
      attempts: 1,
      error: "GitHub answered HTTP 401: Bad credentials: Bearer ***",
    });
    expect(logs.join("\n")).not.toContain(TOKEN);
  });
});

describe("recovered: the previous run from the records branch", () => {
  it("finds the job's last result, skipping the current run, other jobs and missed ticks", async () => {
    repo = new TestRepo("opsc-notify-records-");
    repo.commit({ "opsconductor.yaml": "name: t\n" });
    expect(await previousRunResult(repo.dir, "opsconductor/runs", "patch-web")).toBeUndefined();
    const env = { ...process.env, OPSC_STATE_DIR: `${repo.dir}/.git/opsc-state` };
    const record = (s: ReturnType<typeof summary>) =>
      commitRecord({
        repoDir: repo!.dir,
        settings: { records: { branch: "opsconductor/runs", push: false } },
        summary: s,
        logs: {},
        push: false,
        env,
      });
    await record(
      summary("failure", { id: "20261122T010000Z-patch-web-0001", startedAt: "2026-11-22T01:00:00.000Z" }),
    );
    await record(
      summary("success", {
        id: "20261122T020000Z-other-0002",
        job: "other",
        startedAt: "2026-11-22T02:00:00.000Z",
      }),
    );
    await record(
      missedTickSummary(
        {
          job: "patch-web",
          cron: "0 3 * * *",
          timezone: "UTC",
          at: "2026-11-22T03:00:00.000Z",
          catchUp: "none",
        },
        new Date("2026-11-22T03:05:00Z"),
      ),
    );
    const current = summary("success", {
      id: "20261122T040000Z-patch-web-0004",
      startedAt: "2026-11-22T04:00:00.000Z",
    });
    await record(current);
    const previous = await previousRunResult(repo.dir, "opsconductor/runs", "patch-web", current.id);
    expect(previous).toBe("failure");

    receiver = await startReceiver(() => ({ status: 200 }));
    const outcomes = await notifyRun(
      [{ on: ["success", "recovered"], webhook: { url: receiver.url } }],
      current,
      {
        redactor: new Redactor(),
        previousResult: previous,
      },
    );
    expect(outcomes[0]).toMatchObject({ event: "recovered", ok: true });
    expect(JSON.parse(receiver.received[0]!.body).text).toBe(
      "patch-web recovered: succeeded on 2 targets after a failed run",
    );
  });
});
