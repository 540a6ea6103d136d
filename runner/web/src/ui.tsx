/** Small shared pieces: page title, result chips, errors, dates. */
import Alert from "@mui/material/Alert";
import Chip from "@mui/material/Chip";
import CircularProgress from "@mui/material/CircularProgress";
import Typography from "@mui/material/Typography";
import { useEffect, type ReactNode } from "react";

export function PageTitle({ children }: { children: string }) {
  useEffect(() => {
    document.title = `${children} · OpsConductor`;
  }, [children]);
  return (
    <Typography variant="h4" component="h1" sx={{ mb: 2, fontSize: { xs: "1.6rem", sm: "2rem" } }}>
      {children}
    </Typography>
  );
}

const COLORS: Record<string, "success" | "error" | "warning" | "info" | "default"> = {
  success: "success",
  ok: "success",
  changed: "info",
  finished: "success",
  failure: "error",
  failed: "error",
  unreachable: "error",
  timed_out: "error",
  interrupted: "warning",
  cancelled: "warning",
  skipped: "default",
  running: "info",
  queued: "default",
};

export function Status({ value }: { value: string | undefined }) {
  if (!value) return null;
  return <Chip size="small" label={value} color={COLORS[value] ?? "default"} variant="filled" />;
}

export function Failure({ error }: { error?: string }) {
  return error ? (
    <Alert severity="error" sx={{ my: 2 }}>
      {error}
    </Alert>
  ) : null;
}

export function Loading({ what }: { what: string }) {
  return (
    <Typography role="status" sx={{ display: "flex", gap: 1, alignItems: "center" }}>
      <CircularProgress size={16} aria-hidden /> Loading {what}…
    </Typography>
  );
}

export function when(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section style={{ marginTop: 24 }}>
      <Typography variant="h6" component="h2" sx={{ mb: 1 }}>
        {title}
      </Typography>
      {children}
    </section>
  );
}
