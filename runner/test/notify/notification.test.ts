import { describe, expect, it } from "vitest";
import { buildPayload, eventForSpec, eventsFor, factsFromSummary } from "../../src/notify/notification.js";
import { renderEmail } from "../../src/notify/email-message.js";
import { commitStatusFor, githubFromEnv, repositoryFromRemote } from "../../src/notify/send-commit-status.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { summary } from "./run-summaries.js";

describe("which events a run raises", () => {
  it("success, failure, recovered, missed; nothing for a cancelled run", () => {
    expect(eventsFor(summary("success"))).toEqual(["success"]);
    expect(eventsFor(summary("success"), "failure")).toEqual(["success", "recovered"]);
    expect(eventsFor(summary("success"), "interrupted")).toEqual(["success", "recovered"]);
    expect(eventsFor(summary("success"), "cancelled")).toEqual(["success"]);
    expect(eventsFor(summary("failure"), "failure")).toEqual(["failure"]);
    expect(eventsFor(summary("interrupted"))).toEqual(["failure"]);
    expect(eventsFor(summary("cancelled"))).toEqual([]);
    const missed = summary("cancelled", {
      trigger: {
        kind: "schedule",
        actor: "schedule",
        detail: { missed: "true", tick: "2026-11-22T03:00:00Z" },
      },
    });
    expect(eventsFor(missed)).toEqual(["missed"]);
  });

  it("a spec listening to success and recovered hears a recovery once, as recovered", () => {
    expect(eventForSpec({ on: ["success", "recovered"] }, ["success", "recovered"])).toBe("recovered");
    expect(eventForSpec({ on: ["success"] }, ["success", "recovered"])).toBe("success");
    expect(eventForSpec({ on: ["failure"] }, ["success", "recovered"])).toBeUndefined();
  });
});

describe("the payload", () => {
  it("says what failed where, in one line and in fields", () => {
    const p = buildPayload("failure", factsFromSummary(summary("failure")), "ops");
    expect(p.text).toBe("patch-web failed on 1 of 2 targets (web-2: install failed)");
    expect(p).toMatchObject({
      version: 1,
      event: "failure",
      repository: "ops",
      job: "patch-web",
      run: {
        id: "20261122T031500Z-patch-web-7f3a",
        result: "failure",
        trigger: { kind: "schedule", actor: "schedule" },
        targets: 2,
      },
    });
    expect(p.problems).toEqual([
      { target: "web-2", outcome: "failed", step: "install", reason: expect.stringMatching(/^exit 1/) },
    ]);
  });

  it("renders an email and a commit status from it", () => {
    const p = buildPayload("recovered", factsFromSummary(summary("success")));
    expect(p.text).toBe("patch-web recovered: succeeded on 2 targets after a failed run");
    const mail = renderEmail(p, "opsconductor/runs");
    expect(mail.subject).toBe(
      "[OpsConductor] patch-web recovered: succeeded on 2 targets after a failed run",
    );
    expect(mail.text).toContain(
      "Record: runs/2026/11/22/20261122T031500Z-patch-web-7f3a/ on branch opsconductor/runs",
    );
    expect(commitStatusFor(p)).toEqual({
      state: "success",
      context: "opsconductor/patch-web",
      description: p.text,
    });
    const started = buildPayload("started", { ...factsFromSummary(summary("success")), result: undefined });
    expect(commitStatusFor(started)?.state).toBe("pending");
    expect(commitStatusFor(buildPayload("failure", factsFromSummary(summary("interrupted"))))?.state).toBe(
      "error",
    );
  });

  it("a drift event names the drifted targets and the report's branch; it sets no commit status", () => {
    const drift = {
      branch: "opsconductor/drift/patch-web",
      commit: "c".repeat(40),
      targets: ["web-1", "web-2", "web-3", "web-4"],
    };
    const p = buildPayload(
      "drift",
      { ...factsFromSummary(summary("success")), targetCount: 5, drift },
      "ops",
    );
    expect(p.text).toBe("patch-web drifted on 4 of 5 targets (web-1, web-2, web-3, +1 more)");
    expect(p.drift).toEqual(drift);
    expect(commitStatusFor(p)).toBeNull();
    expect(renderEmail(p, "opsconductor/runs").text).toContain(
      `Drift report: drift.md on branch opsconductor/drift/patch-web (commit ${"c".repeat(12)})`,
    );
  });

  it("reads GitHub settings from the environment", () => {
    expect(githubFromEnv({})).toBeNull();
    expect(githubFromEnv({ GITHUB_TOKEN: "t" })).toBeNull();
    expect(
      githubFromEnv({
        GITHUB_TOKEN: "t",
        OPSC_GITHUB_TOKEN: "o",
        GITHUB_REPOSITORY: "acme/ops",
        GITHUB_SERVER_URL: "https://github.com",
        GITHUB_RUN_ID: "42",
      }),
    ).toEqual({
      token: "o",
      apiUrl: "https://api.github.com",
      repository: "acme/ops",
      targetUrl: "https://github.com/acme/ops/actions/runs/42",
    });
    expect(repositoryFromRemote("git@github.com:acme/ops.git")).toBe("acme/ops");
    expect(repositoryFromRemote("https://github.com/acme/ops")).toBe("acme/ops");
    expect(repositoryFromRemote("https://gitlab.com/acme/ops")).toBeUndefined();
  });
});

describe("notify.smtp in opsconductor.yaml", () => {
  const enc = new TextEncoder();
  // The password reference must name a key that exists (validation checks it); SOPS keeps key names in clear.
  const credentials = enc.encode(
    "smtp:\n    password: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n    version: 3.10.2\n",
  );
  const load = (settings: string) =>
    loadRepo({
      files: new Map([
        ["opsconductor.yaml", enc.encode(settings)],
        ["credentials/ops.sops.yaml", credentials],
      ]),
    });

  it("is read into the settings, with secure defaulting to false", () => {
    const { model, diagnostics } = load(
      "notify:\n  smtp: { host: smtp.example.com, port: 587, from: ops@example.com, username: opsc, password: ops/smtp.password }\n",
    );
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(model.settings.notify?.smtp).toEqual({
      host: "smtp.example.com",
      port: 587,
      secure: false,
      from: "ops@example.com",
      username: "opsc",
      password: "ops/smtp.password",
    });
  });

  it("is validated by the settings schema", () => {
    const { diagnostics } = load("notify:\n  smtp: { host: smtp.example.com, password: not a reference }\n");
    const errors = diagnostics.filter((d) => d.severity === "error");
    expect(errors.map((d) => d.message).join("\n")).toMatch(/from/);
    expect(errors.map((d) => `${d.file}:${d.line}`)).toContain("opsconductor.yaml:2");
  });
});
