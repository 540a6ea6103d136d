/**
 * /targets: every target at the head, its labels, its last result, and a
 * health check (`opsc targets check` on the server) for the targets of jobs
 * the caller may run.
 */
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import Typography from "@mui/material/Typography";
import { useState } from "react";
import { post } from "../api.js";
import { AppLink } from "../router.js";
import { useApi } from "../use-api.js";
import { Failure, Loading, PageTitle, Status, when } from "../ui.js";

interface TargetRow {
  id: string;
  transport: string;
  host?: string;
  labels: Record<string, string>;
  last?: { run: string; outcome: string; at: string };
  /** Whether the caller may health-check it (a job they may run selects it). */
  mayCheck?: boolean;
}

interface Health {
  target: string;
  ok: boolean;
  latencyMs?: number;
  code?: string;
  message?: string;
}

type HealthState = Health | "checking";

function HealthCell({ health }: { health: HealthState | undefined }) {
  if (health === undefined) return null;
  if (health === "checking") return <Typography variant="body2">checking…</Typography>;
  return health.ok ? (
    <>
      <Status value="ok" /> <span>{health.latencyMs} ms</span>
    </>
  ) : (
    <>
      <Status value="unreachable" />{" "}
      <Typography variant="body2" component="span" sx={{ overflowWrap: "anywhere" }}>
        {health.message ?? health.code ?? "failed"}
      </Typography>
    </>
  );
}

export function TargetsPage() {
  const t = useApi<{ targets: TargetRow[] }>("/api/targets");
  const [health, setHealth] = useState<Record<string, HealthState>>({});
  const [error, setError] = useState<string>();
  const checkable = (t.data?.targets ?? []).filter((x) => x.mayCheck).map((x) => x.id);

  const check = async (targets: string[]): Promise<void> => {
    setError(undefined);
    setHealth((h) => ({ ...h, ...Object.fromEntries(targets.map((id) => [id, "checking" as const])) }));
    try {
      const { results } = await post<{ results: Health[] }>("/api/targets/check", { targets });
      setHealth((h) => ({ ...h, ...Object.fromEntries(results.map((r) => [r.target, r])) }));
    } catch (e) {
      setError((e as Error).message);
      setHealth((h) => Object.fromEntries(Object.entries(h).filter(([id]) => !targets.includes(id))));
    }
  };

  return (
    <>
      <PageTitle>Targets</PageTitle>
      <Failure error={t.error} />
      <Failure error={error} />
      {!t.data && !t.error ? <Loading what="targets" /> : null}
      {checkable.length > 0 ? (
        <Box sx={{ mb: 2 }}>
          <Button variant="contained" data-testid="check-all" onClick={() => void check(checkable)}>
            Check {checkable.length === t.data?.targets.length ? "all targets" : "my targets"}
          </Button>
        </Box>
      ) : null}
      {t.data ? (
        <TableContainer>
          <Table size="small" aria-label="Targets">
            <TableHead>
              <TableRow>
                <TableCell>Target</TableCell>
                <TableCell>Host</TableCell>
                <TableCell>Labels</TableCell>
                <TableCell>Last result</TableCell>
                <TableCell>Health</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {t.data.targets.map((x) => (
                <TableRow key={x.id} data-target={x.id}>
                  <TableCell>{x.id}</TableCell>
                  <TableCell>{x.host ?? x.transport}</TableCell>
                  <TableCell>
                    {Object.entries(x.labels)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(", ")}
                  </TableCell>
                  <TableCell>
                    {x.last ? (
                      <>
                        <Status value={x.last.outcome} />{" "}
                        <AppLink to={`/runs/${x.last.run}`}>{when(x.last.at)}</AppLink>
                      </>
                    ) : (
                      "never run"
                    )}
                  </TableCell>
                  <TableCell aria-live="polite" data-health={x.id}>
                    <Box sx={{ display: "flex", flexWrap: "wrap", gap: 1, alignItems: "center" }}>
                      {x.mayCheck ? (
                        <Button
                          size="small"
                          variant="outlined"
                          aria-label={`Check ${x.id}`}
                          disabled={health[x.id] === "checking"}
                          onClick={() => void check([x.id])}
                        >
                          Check
                        </Button>
                      ) : null}
                      <HealthCell health={health[x.id]} />
                    </Box>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      ) : null}
    </>
  );
}
