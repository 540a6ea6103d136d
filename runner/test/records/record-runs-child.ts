/**
 * A separate OpsConductor process for the records tests (run with tsx):
 *   runs REPO COUNT LABEL   run COUNT small local runs, record and push each
 *   hang REPO               start a run whose second step sleeps; print READY; wait to be killed
 * Prints one JSON line per recorded run.
 */
import { Redactor } from "../../src/secrets/redactor.js";
import { commitRecord } from "../../src/records/commit-record.js";
import { RunJournal } from "../../src/records/journal.js";
import { RunRecorder } from "../../src/records/run-recorder.js";
import { runPlan } from "../../src/run/run-plan.js";
import { LocalTransport } from "../../src/transports/local-transport.js";
import { plantCanaries } from "../helpers/canary.js";
import { localTarget, simplePlan, step } from "../helpers/plan-fixture.js";

const [mode, repoDir, countText, label] = process.argv.slice(2);
if (!repoDir) throw new Error("usage: record-runs-child.ts runs|hang REPO [COUNT LABEL]");
const settings = { records: { branch: "opsconductor/runs", push: true } };

if (mode === "runs") {
  const count = Number(countText ?? "1");
  for (let i = 0; i < count; i++) {
    const redactor = new Redactor();
    const secrets = plantCanaries(redactor);
    const plan = simplePlan(
      [localTarget("web-1"), localTarget("web-2")],
      [step("hello", { run: 'echo "hello $CANARY_TOKEN"' }), step("done", { run: "true" })],
      { job: `job-${label ?? "x"}`, inputs: { n: i }, commit: "0123456789abcdef0123456789abcdef01234567" },
    );
    const recorder = new RunRecorder(plan, undefined, redactor);
    const journal = new RunJournal(repoDir, plan, redactor);
    await runPlan(plan, {
      transportFor: (t) => new LocalTransport(t.name),
      redactor,
      secrets,
      listeners: [journal.listener, recorder.listener],
    });
    const result = await commitRecord({
      repoDir,
      settings,
      summary: recorder.summary(),
      logs: recorder.targetLogs(),
      redactor,
    });
    journal.complete();
    process.stdout.write(
      `${JSON.stringify({ runId: result.runId, push: result.push.status, attempts: result.push.attempts, rebuilt: result.push.rebuilt.length, reason: result.push.reason })}\n`,
    );
  }
} else if (mode === "hang") {
  const redactor = new Redactor();
  const secrets = plantCanaries(redactor);
  const plan = simplePlan(
    [localTarget("web-1")],
    [
      step("first", { run: 'echo "first $CANARY_TOKEN"' }),
      step("second", { run: "echo started $$; sleep 30" }),
    ],
    { job: "hang" },
  );
  const journal = new RunJournal(repoDir, plan, redactor);
  await runPlan(plan, {
    transportFor: (t) => new LocalTransport(t.name),
    redactor,
    secrets,
    listeners: [
      journal.listener,
      (e) => {
        if (e.type === "step.output" && e.step === "second") process.stdout.write(`READY ${e.line}\n`);
      },
    ],
  });
} else {
  throw new Error(`unknown mode ${mode}`);
}
