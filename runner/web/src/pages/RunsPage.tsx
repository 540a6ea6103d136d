/** /runs: what runs here now, then the records branch's history, filtered. */
import Box from "@mui/material/Box";
import MenuItem from "@mui/material/MenuItem";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { useState } from "react";
import type { RunRow } from "../../../src/records/runs-index.js";
import type { WorkItem } from "../../../src/server/work-item.js";
import { AppLink } from "../router.js";
import { useApi } from "../use-api.js";
import { Failure, Loading, PageTitle, Section, Status, when } from "../ui.js";

const RESULTS = ["", "success", "failure", "cancelled", "interrupted"];
const TRIGGERS = ["", "manual", "api", "push", "schedule", "webhook"];

export function RunsPage() {
  const [filter, setFilter] = useState({ job: "", result: "", trigger: "", actor: "" });
  const live = useApi<{ runs: WorkItem[] }>("/api/runs?limit=50", 2000);
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== ""));
  query.set("limit", "50");
  const history = useApi<{ runs: RunRow[]; total: number }>(`/api/records/runs?${query}`, 4000);
  const active = (live.data?.runs ?? []).filter((i) => i.status === "queued" || i.status === "running");
  const set = (k: keyof typeof filter) => (e: { target: { value: string } }) =>
    setFilter((f) => ({ ...f, [k]: e.target.value }));
  return (
    <>
      <PageTitle>Runs</PageTitle>
      <Section title="Running now">
        <Failure error={live.error} />
        {active.length === 0 ? (
          <Typography>Nothing is queued or running on this runner.</Typography>
        ) : (
          <TableContainer>
            <Table size="small" aria-label="Runs queued or running">
              <TableHead>
                <TableRow>
                  <TableCell>Run</TableCell>
                  <TableCell>Job</TableCell>
                  <TableCell>Status</TableCell>
                  <TableCell>Trigger</TableCell>
                  <TableCell>Accepted</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {active.map((i) => (
                  <TableRow key={i.id} data-run={i.id}>
                    <TableCell>
                      <AppLink to={`/runs/${i.id}`}>{i.runId ?? i.id}</AppLink>
                    </TableCell>
                    <TableCell>{i.job}</TableCell>
                    <TableCell>
                      <Status value={i.status} />
                    </TableCell>
                    <TableCell>
                      {i.trigger.kind} by {i.trigger.actor}
                    </TableCell>
                    <TableCell>{when(i.acceptedAt)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        )}
      </Section>
      <Section title="History">
        <Box
          component="form"
          role="search"
          aria-label="Filter runs"
          sx={{ display: "flex", flexWrap: "wrap", gap: 2, mb: 2 }}
          onSubmit={(e) => e.preventDefault()}
        >
          <TextField size="small" label="Job" value={filter.job} onChange={set("job")} />
          <TextField
            size="small"
            select
            label="Result"
            value={filter.result}
            onChange={set("result")}
            sx={{ minWidth: 140 }}
          >
            {RESULTS.map((r) => (
              <MenuItem key={r} value={r}>
                {r || "any"}
              </MenuItem>
            ))}
          </TextField>
          <TextField
            size="small"
            select
            label="Trigger"
            value={filter.trigger}
            onChange={set("trigger")}
            sx={{ minWidth: 140 }}
          >
            {TRIGGERS.map((r) => (
              <MenuItem key={r} value={r}>
                {r || "any"}
              </MenuItem>
            ))}
          </TextField>
          <TextField size="small" label="Actor" value={filter.actor} onChange={set("actor")} />
        </Box>
        <Failure error={history.error} />
        {!history.data && !history.error ? <Loading what="runs" /> : null}
        {history.data && history.data.runs.length === 0 ? (
          <Typography>No recorded run matches.</Typography>
        ) : null}
        {history.data && history.data.runs.length > 0 ? (
          <TableContainer>
            <Table size="small" aria-label="Recorded runs, newest first">
              <TableHead>
                <TableRow>
                  <TableCell>Run</TableCell>
                  <TableCell>Job</TableCell>
                  <TableCell>Result</TableCell>
                  <TableCell>Trigger</TableCell>
                  <TableCell>Actor</TableCell>
                  <TableCell>Finished</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {history.data.runs.map((r) => (
                  <TableRow key={r.id} data-record={r.id}>
                    <TableCell>
                      <AppLink to={`/runs/${r.id}`}>{r.id}</AppLink>
                    </TableCell>
                    <TableCell>{r.job}</TableCell>
                    <TableCell>
                      <Status value={r.result} />
                    </TableCell>
                    <TableCell>{r.trigger}</TableCell>
                    <TableCell>{r.actor}</TableCell>
                    <TableCell>{when(r.finishedAt)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        ) : null}
        {history.data ? (
          <Typography variant="body2" sx={{ mt: 1 }}>
            {history.data.total} runs on the records branch.
          </Typography>
        ) : null}
      </Section>
    </>
  );
}
