/** /audit: the chain's state as `opsc audit verify` sees it, and the newest audit lines. */
import Alert from "@mui/material/Alert";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import Typography from "@mui/material/Typography";
import { useApi } from "../use-api.js";
import { Failure, Loading, PageTitle, Section, when } from "../ui.js";

interface Audit {
  verification: null | {
    ok: boolean;
    lines: number;
    runs?: number;
    firstBreak?: { file?: string; line?: number; reason?: string };
  };
  lines: Array<Record<string, unknown>>;
}

export function AuditPage() {
  const a = useApi<Audit>("/api/audit");
  const v = a.data?.verification;
  return (
    <>
      <PageTitle>Audit</PageTitle>
      <Failure error={a.error} />
      {!a.data && !a.error ? <Loading what="the audit trail" /> : null}
      {a.data && !v ? <Typography>Nothing recorded yet.</Typography> : null}
      {v ? (
        <Alert severity={v.ok ? "success" : "error"}>
          {v.ok
            ? `The chain holds: ${v.lines} lines${v.runs !== undefined ? `, ${v.runs} run records checked` : ""}.`
            : `The chain is broken${v.firstBreak ? ` at ${v.firstBreak.file ?? ""}:${v.firstBreak.line ?? ""} (${v.firstBreak.reason ?? ""})` : ""}.`}
        </Alert>
      ) : null}
      {a.data && a.data.lines.length > 0 ? (
        <Section title="Newest lines">
          <TableContainer>
            <Table size="small" aria-label="Audit lines, newest first">
              <TableHead>
                <TableRow>
                  <TableCell>#</TableCell>
                  <TableCell>At</TableCell>
                  <TableCell>Job</TableCell>
                  <TableCell>Run</TableCell>
                  <TableCell>Actor</TableCell>
                  <TableCell>Result</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {a.data.lines.map((l, i) => (
                  <TableRow key={i}>
                    <TableCell>{String(l.seq ?? "")}</TableCell>
                    <TableCell>{when(String(l.at ?? ""))}</TableCell>
                    <TableCell>{String(l.job ?? l.event ?? "")}</TableCell>
                    <TableCell>{String(l.run ?? "")}</TableCell>
                    <TableCell>{String(l.actor ?? "")}</TableCell>
                    <TableCell>{String(l.result ?? "")}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        </Section>
      ) : null}
    </>
  );
}
