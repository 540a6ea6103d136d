/** /schedules: next fire times in their time zones (runs and drift checks), and ticks missed with why. */
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import Typography from "@mui/material/Typography";
import { AppLink } from "../router.js";
import { useApi } from "../use-api.js";
import { Failure, Loading, PageTitle, Section, when } from "../ui.js";

interface Schedules {
  schedules: Array<{
    job: string;
    kind: "run" | "drift";
    cron: string;
    timezone: string;
    catchUp: string;
    next: string[];
  }>;
  missed: Array<{ job: string; at?: string; reason: string }>;
}

function inZone(iso: string, timeZone: string): string {
  try {
    return new Date(iso).toLocaleString(undefined, { timeZone, timeZoneName: "short" });
  } catch {
    return when(iso);
  }
}

export function SchedulesPage() {
  const s = useApi<Schedules>("/api/schedules", 30_000);
  return (
    <>
      <PageTitle>Schedules</PageTitle>
      <Failure error={s.error} />
      {!s.data && !s.error ? <Loading what="schedules" /> : null}
      {s.data ? (
        <>
          {s.data.schedules.length === 0 ? (
            <Typography>No job runs or checks for drift on a schedule.</Typography>
          ) : null}
          {s.data.schedules.length > 0 ? (
            <TableContainer>
              <Table size="small" aria-label="Schedules">
                <TableHead>
                  <TableRow>
                    <TableCell>Job</TableCell>
                    <TableCell>Tick</TableCell>
                    <TableCell>Cron</TableCell>
                    <TableCell>Time zone</TableCell>
                    <TableCell>Catch-up</TableCell>
                    <TableCell>Next</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {s.data.schedules.map((x) => (
                    <TableRow key={`${x.job} ${x.kind} ${x.cron} ${x.timezone}`}>
                      <TableCell>
                        <AppLink to={`/jobs/${x.job}`}>{x.job}</AppLink>
                      </TableCell>
                      <TableCell>{x.kind === "drift" ? "drift check" : "run"}</TableCell>
                      <TableCell>{x.cron}</TableCell>
                      <TableCell>{x.timezone}</TableCell>
                      <TableCell>{x.catchUp}</TableCell>
                      <TableCell>{x.next.map((n) => inZone(n, x.timezone)).join("; ")}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          ) : null}
          <Section title="Missed ticks">
            {s.data.missed.length === 0 ? (
              <Typography>No tick was missed recently.</Typography>
            ) : (
              <ul>
                {s.data.missed.map((m, i) => (
                  <li key={i}>
                    {m.job}: {m.reason} ({when(m.at)})
                  </li>
                ))}
              </ul>
            )}
          </Section>
        </>
      ) : null}
    </>
  );
}
