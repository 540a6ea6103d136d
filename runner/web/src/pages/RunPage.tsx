/**
 * /runs/:id — a work item of this runner or a recorded run: summary, inputs,
 * commit, per-target outcome and steps, and each target's log, following the
 * run's event stream while it runs (the stream replays a finished run too).
 */
import Link from "@mui/material/Link";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import Typography from "@mui/material/Typography";
import { useEffect, useState } from "react";
import type { RunEvent } from "../../../src/core/run-events.js";
import type { RunSummary } from "../../../src/core/run-summary.js";
import type { WorkItem } from "../../../src/server/work-item.js";
import { followRun } from "../api.js";
import { useApi } from "../use-api.js";
import { Failure, PageTitle, Section, Status, when } from "../ui.js";

interface LogLine {
  text: string;
  kind: "out" | "stderr" | "marker";
}

interface TargetView {
  outcome?: string;
  steps: Map<string, string>;
  lines: LogLine[];
}

interface Live {
  runId?: string;
  result?: string;
  targets: Map<string, TargetView>;
  ended: boolean;
}

function apply(live: Live, e: RunEvent): Live {
  const targets = new Map(live.targets);
  const target = (name: string): TargetView => {
    const t = targets.get(name) ?? { steps: new Map(), lines: [] };
    const copy = { ...t, steps: new Map(t.steps), lines: t.lines };
    targets.set(name, copy);
    return copy;
  };
  switch (e.type) {
    case "run.started":
      for (const name of e.targets) target(name);
      return { ...live, runId: e.runId, targets };
    case "step.started": {
      const t = target(e.target);
      t.steps.set(e.step, "running");
      t.lines = [...t.lines, { text: `>>> step ${e.step}`, kind: "marker" }];
      break;
    }
    case "step.output": {
      const t = target(e.target);
      t.lines = [...t.lines, { text: e.line, kind: e.stream === "stderr" ? "stderr" : "out" }];
      break;
    }
    case "step.finished": {
      const t = target(e.target);
      t.steps.set(e.step, e.outcome);
      const why = e.reason ? `: ${e.reason}` : "";
      t.lines = [...t.lines, { text: `<<< step ${e.step} ${e.outcome} in ${e.ms} ms${why}`, kind: "marker" }];
      break;
    }
    case "target.finished":
      target(e.target).outcome = e.outcome;
      break;
    case "run.finished":
      return { ...live, result: e.result, targets };
    default:
      return live;
  }
  return { ...live, targets };
}

export function RunPage({ id }: { id: string }) {
  const [live, setLive] = useState<Live>({ targets: new Map(), ended: false });
  const [streamError, setStreamError] = useState<string>();
  const item = useApi<WorkItem>(`/api/runs/${encodeURIComponent(id)}`, live.ended ? undefined : 2000);
  const runId = item.data?.runId ?? live.runId ?? (item.status === 404 ? id : undefined);
  const record = useApi<{ summary: RunSummary; commitUrl?: string }>(
    runId && (live.ended || item.status === 404)
      ? `/api/records/runs/${encodeURIComponent(runId)}`
      : undefined,
  );

  useEffect(() => {
    const stop = new AbortController();
    setLive({ targets: new Map(), ended: false });
    followRun(id, (e) => setLive((l) => apply(l, e)), stop.signal).then(
      () => setLive((l) => ({ ...l, ended: true })),
      (e: Error) => {
        if (!stop.signal.aborted) setStreamError(e.message);
      },
    );
    return () => stop.abort();
  }, [id]);

  const summary = record.data?.summary;
  const w = item.data;
  const job = summary?.job ?? w?.job;
  const result = summary?.result ?? live.result ?? w?.result;
  const status = result ?? w?.status;
  const trigger = summary?.trigger ?? w?.trigger;
  const commit = summary?.sourceCommit ?? w?.commit;
  const inputs = summary?.inputs ?? w?.inputs;
  const names = new Set([...live.targets.keys(), ...(summary?.targets.map((t) => t.name) ?? [])]);

  return (
    <>
      <PageTitle>{`Run ${runId ?? id}`}</PageTitle>
      <Failure
        error={
          item.status === 404 && record.status === 404
            ? `No run "${id}" here or on the records branch.`
            : undefined
        }
      />
      <Failure error={streamError} />
      <Section title="Summary">
        <Table size="small" aria-label="Run summary">
          <TableBody>
            <TableRow>
              <TableCell component="th" scope="row">
                Job
              </TableCell>
              <TableCell>{job}</TableCell>
            </TableRow>
            <TableRow>
              <TableCell component="th" scope="row">
                Status
              </TableCell>
              <TableCell data-testid="run-status">
                <Status value={status} /> {live.ended ? "" : w?.status === "queued" ? "" : " (live)"}
              </TableCell>
            </TableRow>
            <TableRow>
              <TableCell component="th" scope="row">
                Trigger
              </TableCell>
              <TableCell>{trigger ? `${trigger.kind} by ${trigger.actor}` : ""}</TableCell>
            </TableRow>
            <TableRow>
              <TableCell component="th" scope="row">
                Commit
              </TableCell>
              <TableCell sx={{ wordBreak: "break-all" }}>
                {record.data?.commitUrl ? <Link href={record.data.commitUrl}>{commit}</Link> : commit}
              </TableCell>
            </TableRow>
            <TableRow>
              <TableCell component="th" scope="row">
                Started
              </TableCell>
              <TableCell>{when(summary?.startedAt ?? w?.startedAt)}</TableCell>
            </TableRow>
            <TableRow>
              <TableCell component="th" scope="row">
                Finished
              </TableCell>
              <TableCell>{when(summary?.finishedAt ?? w?.finishedAt)}</TableCell>
            </TableRow>
            {w?.reason ? (
              <TableRow>
                <TableCell component="th" scope="row">
                  Reason
                </TableCell>
                <TableCell>{w.reason}</TableCell>
              </TableRow>
            ) : null}
          </TableBody>
        </Table>
      </Section>
      <Section title="Inputs">
        {inputs && Object.keys(inputs).length > 0 ? (
          <pre className="log" tabIndex={0} aria-label="Inputs">
            {JSON.stringify(inputs, null, 2)}
          </pre>
        ) : (
          <Typography>No inputs.</Typography>
        )}
      </Section>
      <Section title="Targets">
        <TableContainer>
          <Table size="small" aria-label="Targets and their steps">
            <TableHead>
              <TableRow>
                <TableCell>Target</TableCell>
                <TableCell>Outcome</TableCell>
                <TableCell>Steps</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {[...names].map((name) => {
                const t = live.targets.get(name);
                const s = summary?.targets.find((x) => x.name === name);
                const steps = s ? s.steps.map((x) => [x.id, x.outcome] as const) : [...(t?.steps ?? [])];
                return (
                  <TableRow key={name}>
                    <TableCell>{name}</TableCell>
                    <TableCell>
                      <Status value={s?.outcome ?? t?.outcome ?? "running"} />
                    </TableCell>
                    <TableCell>
                      {steps.map(([step, outcome]) => (
                        <span key={step} style={{ marginRight: 12 }}>
                          {step}: <Status value={outcome} />
                        </span>
                      ))}
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </TableContainer>
      </Section>
      {[...names].map((name) => (
        <Section key={name} title={`Log of ${name}`}>
          <pre
            className="log"
            data-log={name}
            tabIndex={0}
            role="log"
            aria-label={`Log of ${name}`}
            aria-live="polite"
          >
            {(live.targets.get(name)?.lines ?? []).map((l, i) => (
              <div key={i} className={l.kind === "out" ? undefined : l.kind}>
                {l.text}
              </div>
            ))}
          </pre>
        </Section>
      ))}
    </>
  );
}
