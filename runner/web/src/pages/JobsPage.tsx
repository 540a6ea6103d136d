/** /jobs: every job at the default branch's head. */
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import { AppLink } from "../router.js";
import { useApi } from "../use-api.js";
import { Failure, Loading, PageTitle } from "../ui.js";

export interface Triggers {
  manual: boolean;
  push?: { branches: string[]; paths: string[] };
  schedule: Array<{ cron: string; timezone: string; catchUp: string; next: string[] }>;
  webhook?: { types: string[]; signed: boolean };
}

export function triggerText(t: Triggers): string {
  const parts: string[] = [];
  if (t.manual) parts.push("manual");
  if (t.push) parts.push(`push to ${t.push.branches.join(", ") || "any branch"}`);
  for (const s of t.schedule) parts.push(`schedule ${s.cron} (${s.timezone})`);
  if (t.webhook) parts.push("webhook");
  return parts.join("; ");
}

export function JobsPage() {
  const jobs = useApi<{
    commit: string;
    jobs: Array<{ id: string; description: string; triggers: Triggers }>;
  }>("/api/jobs");
  return (
    <>
      <PageTitle>Jobs</PageTitle>
      <Failure error={jobs.error} />
      {!jobs.data && !jobs.error ? <Loading what="jobs" /> : null}
      {jobs.data ? (
        <TableContainer>
          <Table size="small" aria-label={`Jobs at ${jobs.data.commit.slice(0, 12)}`}>
            <TableHead>
              <TableRow>
                <TableCell>Job</TableCell>
                <TableCell>Description</TableCell>
                <TableCell>Triggers</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {jobs.data.jobs.map((j) => (
                <TableRow key={j.id}>
                  <TableCell>
                    <AppLink to={`/jobs/${j.id}`}>{j.id}</AppLink>
                  </TableCell>
                  <TableCell>{j.description}</TableCell>
                  <TableCell>{triggerText(j.triggers)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      ) : null}
    </>
  );
}
