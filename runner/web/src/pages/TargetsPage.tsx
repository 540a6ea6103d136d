/** /targets: every target at the head, its labels and its last result. */
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import { AppLink } from "../router.js";
import { useApi } from "../use-api.js";
import { Failure, Loading, PageTitle, Status, when } from "../ui.js";

interface TargetRow {
  id: string;
  transport: string;
  host?: string;
  labels: Record<string, string>;
  last?: { run: string; outcome: string; at: string };
}

export function TargetsPage() {
  const t = useApi<{ targets: TargetRow[] }>("/api/targets");
  return (
    <>
      <PageTitle>Targets</PageTitle>
      <Failure error={t.error} />
      {!t.data && !t.error ? <Loading what="targets" /> : null}
      {t.data ? (
        <TableContainer>
          <Table size="small" aria-label="Targets">
            <TableHead>
              <TableRow>
                <TableCell>Target</TableCell>
                <TableCell>Host</TableCell>
                <TableCell>Labels</TableCell>
                <TableCell>Last result</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {t.data.targets.map((x) => (
                <TableRow key={x.id}>
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
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      ) : null}
    </>
  );
}
