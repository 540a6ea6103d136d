import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterEach, describe, expect, it } from "vitest";
import type { SmtpSettings } from "../../src/core/repo-model.js";
import { notifyRun, type CredentialReader } from "../../src/notify/notifier.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { assertNoCanary, plantCanaries } from "../helpers/canary.js";
import { summary } from "./run-summaries.js";

const SMTP_PASSWORD = "smtp pass from credentials";
const credentials: CredentialReader = {
  get: async (ref) => {
    if (ref === "ops/smtp.password") return SMTP_PASSWORD;
    throw new Error(`no ${ref}`);
  },
};
const FAST = { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 };

interface Mail {
  from: string;
  to: string[];
  raw: string;
  user?: string;
}

let servers: SMTPServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  servers = [];
});

/** A real SMTP server on 127.0.0.1 that asks for a login and keeps what it is given. */
async function smtp(options: { rejectRcpt?: (addr: string) => string | undefined; failFirst?: number } = {}) {
  const mails: Mail[] = [];
  let sessions = 0;
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onConnect(_session, cb) {
      sessions++;
      if (options.failFirst && sessions <= options.failFirst) {
        const e = new Error("try again later") as Error & { responseCode: number };
        e.responseCode = 421;
        return cb(e);
      }
      cb();
    },
    onAuth(auth, _session, cb) {
      if (auth.username === "opsc" && auth.password === SMTP_PASSWORD)
        return cb(null, { user: auth.username });
      cb(new Error("Invalid username or password"));
    },
    onRcptTo(address, _session, cb) {
      const why = options.rejectRcpt?.(address.address);
      if (why) {
        const e = new Error(why) as Error & { responseCode: number };
        e.responseCode = 550;
        return cb(e);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          // Unfold headers and undo quoted-printable soft breaks, to read it as text.
          raw: Buffer.concat(chunks)
            .toString("utf8")
            .replace(/\r\n[ \t]/g, " ")
            .replace(/=\r\n/g, "")
            .replace(/=3D/g, "="),
          ...(session.user ? { user: String(session.user) } : {}),
        });
        cb();
      });
    },
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address() as AddressInfo)
    .port;
  const settings: SmtpSettings = {
    host: "127.0.0.1",
    port,
    secure: false,
    from: "OpsConductor <ops@example.com>",
    username: "opsc",
    password: "ops/smtp.password",
  };
  return { mails, settings, sessions: () => sessions };
}

describe("email notifications", () => {
  it("logs in with the password from credentials and sends a masked mail", async () => {
    const server = await smtp();
    const redactor = new Redactor();
    plantCanaries(redactor);
    const outcomes = await notifyRun(
      [{ on: ["failure"], email: { to: ["ops@example.com", "oncall@example.com"] } }],
      summary("failure"),
      {
        redactor,
        credentials,
        settings: {
          name: "acme-ops",
          notify: { smtp: server.settings },
          records: { branch: "opsconductor/runs", push: false },
        },
        retry: FAST,
      },
    );
    expect(outcomes).toEqual([
      {
        event: "failure",
        channel: "email",
        to: "ops@example.com, oncall@example.com",
        ok: true,
        attempts: 1,
        ms: expect.any(Number),
      },
    ]);
    expect(server.mails).toHaveLength(1);
    const mail = server.mails[0]!;
    expect(mail.user).toBe("opsc");
    expect(mail.from).toBe("ops@example.com");
    expect(mail.to).toEqual(["ops@example.com", "oncall@example.com"]);
    expect(mail.raw).toContain(
      "Subject: [acme-ops] patch-web failed on 1 of 2 targets (web-2: install failed)",
    );
    expect(mail.raw).toContain("Auto-Submitted: auto-generated");
    expect(mail.raw).toContain("web-2: failed in step install: exit 1: token *** rejected");
    expect(mail.raw).toContain(
      "Record: runs/2026/11/22/20261122T031500Z-patch-web-7f3a/ on branch opsconductor/runs",
    );
    assertNoCanary(mail.raw, "notification mail");
    expect(mail.raw).not.toContain(SMTP_PASSWORD);
  });

  it("retries a server that says 421 (try later), then delivers", async () => {
    const server = await smtp({ failFirst: 1 });
    const outcomes = await notifyRun(
      [{ on: ["success"], email: { to: ["ops@example.com"] } }],
      summary("success"),
      {
        redactor: new Redactor(),
        credentials,
        settings: { notify: { smtp: server.settings } },
        retry: FAST,
      },
    );
    expect(outcomes[0]).toMatchObject({ ok: true, attempts: 2 });
    expect(server.mails).toHaveLength(1);
    expect(server.sessions()).toBe(2);
  });

  it("does not retry a refused recipient, and reports why", async () => {
    const server = await smtp({
      rejectRcpt: (a) => (a === "nobody@example.com" ? "No such user" : undefined),
    });
    const logs: string[] = [];
    const outcomes = await notifyRun(
      [{ on: ["failure"], email: { to: ["nobody@example.com"] } }],
      summary("failure"),
      {
        redactor: new Redactor(),
        credentials,
        settings: { notify: { smtp: server.settings } },
        retry: FAST,
        log: (l) => logs.push(l),
      },
    );
    expect(outcomes[0]).toMatchObject({ ok: false, attempts: 1 });
    expect(outcomes[0]?.error).toMatch(/^SMTP 550: .*No such user/);
    expect(server.sessions()).toBe(1);
    expect(logs[0]).toMatch(
      /^notify: failure email to nobody@example.com failed after 1 attempt\(s\): SMTP 550/,
    );
  });

  it("fails a wrong password without retrying, and without printing it", async () => {
    const server = await smtp();
    const redactor = new Redactor();
    const outcomes = await notifyRun(
      [{ on: ["failure"], email: { to: ["ops@example.com"] } }],
      summary("failure"),
      {
        redactor,
        credentials: { get: async () => "wrong password" },
        settings: { notify: { smtp: server.settings } },
        retry: FAST,
        log: () => undefined,
      },
    );
    expect(outcomes[0]).toMatchObject({ ok: false, attempts: 1 });
    expect(outcomes[0]?.error).toMatch(/^SMTP 535/);
    expect(server.mails).toHaveLength(0);
  });

  it("says what to configure when no SMTP server is set", async () => {
    const outcomes = await notifyRun(
      [{ on: ["failure"], email: { to: ["ops@example.com"] } }],
      summary("failure"),
      {
        redactor: new Redactor(),
        settings: {},
        log: () => undefined,
      },
    );
    expect(outcomes[0]).toMatchObject({
      ok: false,
      attempts: 0,
      error: "no SMTP server: set notify.smtp in opsconductor.yaml (docs/notifications.md)",
    });
  });
});
