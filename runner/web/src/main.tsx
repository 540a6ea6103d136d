/** The dashboard of `opsc serve`: a single-page app over the server's HTTP API. */
import AppBar from "@mui/material/AppBar";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Container from "@mui/material/Container";
import Link from "@mui/material/Link";
import CssBaseline from "@mui/material/CssBaseline";
import Toolbar from "@mui/material/Toolbar";
import Typography from "@mui/material/Typography";
import { ThemeProvider, createTheme } from "@mui/material/styles";
import { StrictMode, useEffect, useRef, useState, type MouseEvent } from "react";
import { createRoot } from "react-dom/client";
import { me, onSignInNeeded, signOut, type ApiError, type Me } from "./api.js";
import { navigate, usePath } from "./router.js";
import { Failure } from "./ui.js";
import { AuditPage } from "./pages/AuditPage.js";
import { JobPage } from "./pages/JobPage.js";
import { JobsPage } from "./pages/JobsPage.js";
import { RunPage } from "./pages/RunPage.js";
import { RunsPage } from "./pages/RunsPage.js";
import { SchedulesPage } from "./pages/SchedulesPage.js";
import { TargetsPage } from "./pages/TargetsPage.js";
import "./app.css";

// Darker than MUI's defaults: white text on every status colour passes WCAG AA contrast.
const theme = createTheme({
  palette: {
    primary: { main: "#1d4ed8" },
    success: { main: "#1b5e20" },
    info: { main: "#0b4f8a" },
    warning: { main: "#8a4500" },
    error: { main: "#b3261e" },
  },
});

const SECTIONS = [
  ["/runs", "Runs"],
  ["/jobs", "Jobs"],
  ["/targets", "Targets"],
  ["/schedules", "Schedules"],
  ["/audit", "Audit"],
] as const;

function Page({ path, who }: { path: string; who: Me }) {
  const [, section, ...rest] = path.split("/");
  const id = rest.map(decodeURIComponent).join("/");
  switch (section) {
    case "":
    case "runs":
      return id ? <RunPage id={id} /> : <RunsPage />;
    case "jobs":
      return id ? <JobPage id={id} who={who} /> : <JobsPage />;
    case "targets":
      return <TargetsPage />;
    case "schedules":
      return <SchedulesPage />;
    case "audit":
      return <AuditPage />;
    default:
      return <Failure error={`There is no page at ${path}.`} />;
  }
}

const SIGN_IN_AT = "opsc.signInAt";

/** Where sign-in starts, coming back to this page afterwards. */
function signInUrl(start: string, back: string): string {
  return `${start}?return_to=${encodeURIComponent(back)}`;
}

let leaving = false;

/**
 * Without an identity (no session, or one past renewing), off to the server's
 * sign-in and back to this page. Once a minute at most: a sign-in that comes
 * back without a session shows the error rather than going round in circles.
 */
function redirectToSignIn(signIn: string): void {
  const last = Number(sessionStorage.getItem(SIGN_IN_AT) ?? 0);
  if (leaving || Date.now() - last < 60_000) return;
  leaving = true;
  sessionStorage.setItem(SIGN_IN_AT, String(Date.now()));
  window.location.assign(signInUrl(signIn, window.location.pathname + window.location.search));
}

function App() {
  const path = usePath();
  const [who, setWho] = useState<Me>();
  const [error, setError] = useState<string>();
  const [signedOut, setSignedOut] = useState(false);
  const signedOutRef = useRef(false);
  useEffect(() => {
    // After signing out, a call that finds no session is expected: no sign-in then.
    onSignInNeeded((signIn) => {
      if (!signedOutRef.current) redirectToSignIn(signIn);
    });
    me().then(
      (m) => {
        sessionStorage.removeItem(SIGN_IN_AT);
        setWho(m);
      },
      (e: ApiError) => {
        if (leaving) return;
        setError(
          e.status === 401
            ? "Sign in first: open /auth/login, or give this page a token (#token=...)."
            : e.message,
        );
      },
    );
  }, []);
  const leave = (): void => {
    signOut().then(
      () => {
        signedOutRef.current = true;
        setWho(undefined);
        setSignedOut(true);
      },
      (e: Error) => setError(`Signing out failed: ${e.message}`),
    );
  };
  const go = (to: string) => (e: MouseEvent<HTMLAnchorElement>) => {
    e.preventDefault();
    navigate(to);
  };
  const current = `/${path.split("/")[1] || "runs"}`;
  return (
    <ThemeProvider theme={theme}>
      <CssBaseline />
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <AppBar position="static" component="header">
        <Toolbar sx={{ flexWrap: "wrap", gap: 1, py: 1 }}>
          <Typography variant="h6" component="p" sx={{ mr: 2 }}>
            OpsConductor
          </Typography>
          <Box
            component="nav"
            aria-label="Sections"
            sx={{ display: "flex", flexWrap: "wrap", gap: 0.5, flexGrow: 1 }}
          >
            {SECTIONS.map(([to, label]) => (
              <Button
                key={to}
                href={to}
                onClick={go(to)}
                color="inherit"
                aria-current={current === to ? "page" : undefined}
                sx={{ textDecoration: current === to ? "underline" : "none", textUnderlineOffset: 6 }}
              >
                {label}
              </Button>
            ))}
          </Box>
          {who && (
            <Typography component="p" variant="body2" data-testid="signed-in-user">
              {who.user}
              {who.identities && who.roles.length > 0 ? ` (${who.roles.join(", ")})` : ""}
            </Typography>
          )}
          {who?.via === "oidc" && (
            <Button color="inherit" variant="outlined" size="small" onClick={leave} data-testid="sign-out">
              Sign out
            </Button>
          )}
        </Toolbar>
      </AppBar>
      <Container
        component="main"
        id="main"
        tabIndex={-1}
        maxWidth="lg"
        sx={{ py: 3, px: { xs: 1.5, sm: 3 } }}
      >
        {error ? (
          <Failure error={error} />
        ) : signedOut ? (
          <SignedOut />
        ) : who ? (
          <Page path={path} who={who} />
        ) : null}
      </Container>
    </ThemeProvider>
  );
}

function SignedOut() {
  return (
    <Box data-testid="signed-out">
      <Typography variant="h4" component="h1" sx={{ mb: 2 }}>
        Signed out
      </Typography>
      <Typography>
        Your session on this runner has ended.{" "}
        <Link href={signInUrl("/auth/login", "/runs")}>Sign in again</Link>
      </Typography>
    </Box>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
