/**
 * The bundled GitHub Action, run as GitHub's runner runs it (see run-action.ts),
 * against real Git repositories, a loopback `git http-backend` remote for
 * records, and a loopback HTTP server standing in for api.github.com that
 * records what the action asked.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git, TestRepo } from "../../runner/test/helpers/automation-repo.js";
import { startGitHttpServer, type GitHttpServer } from "../../runner/test/helpers/git-http-server.js";
import { examplePayload, runAction } from "./run-action.js";

/** The log as a reader sees it: `::add-mask::` lines are commands to the runner, never shown. */
const withoutMasks = (out: string): string => out.replace(/^::add-mask::.*\n/gm, "");

const OPSC_YAML = "name: action-test\nrecords: { branch: opsconductor/runs, push: true }\n";
const TARGETS =
  "targets:\n  here: { transport: local, labels: { role: app } }\n  there: { transport: local, labels: { role: app } }\n";
const HELLO = `description: Say hello
on:
  push: { branches: [main], paths: ["jobs/**"] }
  manual: true
inputs:
  who: { type: string, default: world }
targets: { match: { role: app } }
steps:
  - id: greet
    run: echo "hello $WHO"
    env: { WHO: "\${{ inputs.who }}" }
`;

describe("command validate", () => {
  const repo = new TestRepo("opsc-action-validate-");
  beforeAll(() => {
    repo.commit({
      "ops/opsconductor.yaml": OPSC_YAML,
      "ops/targets/app.yaml": TARGETS,
      "ops/jobs/hello.yaml": HELLO,
      // Two mistakes: a step with neither run nor uses, and an unknown target field.
      "ops/jobs/broken.yaml": "targets: { names: [here] }\nsteps:\n  - id: nothing\n    retries: 3\n",
    });
  });
  afterAll(() => repo.remove());

  it("annotates every problem at file, line and column from the workspace root, and fails", async () => {
    const r = await runAction({ workspace: repo.dir, inputs: { command: "validate", path: "ops" } });
    expect(r.status).toBe(1);
    const annotations = r.stdout.split("\n").filter((l) => l.startsWith("::error "));
    expect(annotations.length).toBeGreaterThan(0);
    for (const a of annotations)
      expect(a).toMatch(/^::error file=ops\/jobs\/broken\.yaml,line=\d+,col=\d+,title=[^:]+::.+/);
    expect(r.stdout).toMatch(/::error::the automation repository has \d+ error\(s\); see the annotations/);
    expect(r.summary).toContain("## OpsConductor: validate");
    expect(r.summary).toMatch(/\| error \| `ops\/jobs\/broken\.yaml:\d+:\d+` \|/);
    expect(r.outputs.result).toBe("failure");
  });

  it("passes a clean repository with an empty report", async () => {
    repo.commit({ "ops/jobs/broken.yaml": null });
    const r = await runAction({ workspace: repo.dir, inputs: { command: "validate", path: "ops" } });
    expect(r.stdout).not.toContain("::error");
    expect(r.status).toBe(0);
    expect(r.summary).toContain("No problems found.");
    expect(r.outputs.result).toBe("success");
  });

  it("refuses an unknown command with the list of commands, no stack trace", async () => {
    const r = await runAction({ workspace: repo.dir, inputs: { command: "deploy", path: "ops" } });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::command: "deploy" is not one of validate, plan, diff, run, on-push');
    expect(r.stdout).not.toMatch(/\n\s+at /);
  });

  it("says where the repository is missing", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "plan", path: "nowhere", job: "hello" },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("::error::path: nowhere: no such folder in the workspace");
  });
});

describe("command plan", () => {
  const repo = new TestRepo("opsc-action-plan-");
  beforeAll(() => {
    const targets = Array.from(
      { length: 5 },
      (_, i) => `  t${i}: { transport: local, labels: { role: app } }`,
    ).join("\n");
    repo.commit({
      "opsconductor.yaml": OPSC_YAML,
      "targets/app.yaml": `targets:\n${targets}\n`,
      "jobs/hello.yaml": HELLO,
    });
  });
  afterAll(() => repo.remove());

  it("writes the plan to the summary and a shard matrix to the outputs", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "plan", job: "hello", shard: "3", inputs: "who: octocat" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.summary).toContain("### Plan: `hello`");
    expect(r.summary).toContain("5 target(s)");
    expect(JSON.parse(r.outputs.matrix ?? "")).toEqual({ shard: ["1/3", "2/3", "3/3"] });
  });

  it("never asks for more shards than there are targets", async () => {
    const r = await runAction({ workspace: repo.dir, inputs: { command: "plan", job: "hello", shard: "9" } });
    expect(JSON.parse(r.outputs.matrix ?? "").shard).toHaveLength(5);
  });

  it("names the missing job input", async () => {
    const r = await runAction({ workspace: repo.dir, inputs: { command: "plan" } });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("::error::command plan needs the `job` input");
  });

  it("rejects job inputs that are not a mapping", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "plan", job: "hello", inputs: "- a\n- b" },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("::error::inputs: expected a mapping of input names to values");
  });
});

interface ApiRequest {
  method: string;
  url: string;
  authorization?: string;
  body?: { body?: string };
}

/** A loopback stand-in for the GitHub REST API's issue comments, recording every request. */
async function startFakeGithubApi(): Promise<{
  url: string;
  requests: ApiRequest[];
  close(): Promise<void>;
}> {
  const requests: ApiRequest[] = [];
  const comments: Array<{ id: number; body: string; html_url: string }> = [
    { id: 7, body: "Looks good to me", html_url: "https://github.example/c/7" },
  ];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const body = raw ? (JSON.parse(raw) as { body?: string }) : undefined;
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(body ? { body } : {}),
      });
      const json = (status: number, value: unknown): void => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      };
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method === "GET" && /\/issues\/\d+\/comments$/.test(url.pathname)) return json(200, comments);
      if (req.method === "POST" && /\/issues\/\d+\/comments$/.test(url.pathname)) {
        const c = {
          id: 100 + comments.length,
          body: body?.body ?? "",
          html_url: "https://github.example/c/new",
        };
        comments.push(c);
        return json(201, c);
      }
      const patch = /\/issues\/comments\/(\d+)$/.exec(url.pathname);
      if (req.method === "PATCH" && patch) {
        const c = comments.find((x) => x.id === Number(patch[1]));
        if (!c) return json(404, { message: "Not Found" });
        c.body = body?.body ?? "";
        return json(200, c);
      }
      json(404, { message: "Not Found" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("command diff on a pull_request event", () => {
  const repo = new TestRepo("opsc-action-diff-");
  let api: Awaited<ReturnType<typeof startFakeGithubApi>>;
  let base: string;
  let head: string;
  let head2: string;
  beforeAll(async () => {
    api = await startFakeGithubApi();
    base = repo.commit({
      "opsconductor.yaml": OPSC_YAML,
      "targets/app.yaml": TARGETS,
      "jobs/hello.yaml": HELLO,
    });
    git(repo.dir, "checkout", "-q", "-b", "feature");
    head = repo.commit({
      "jobs/hello.yaml": HELLO.replace(
        "  manual: true\n",
        '  manual: true\n  schedule: [{ cron: "0 6 * * 1" }]\n',
      ),
    });
    head2 = repo.commit({
      "targets/app.yaml": `${TARGETS}  more: { transport: local, labels: { role: app } }\n`,
    });
    // The base branch moves on after the pull request was opened: the review must not show that as part of it.
    git(repo.dir, "checkout", "-q", "main");
    base = repo.commit({
      "jobs/other.yaml": "targets: { names: [here] }\nsteps: [{ id: s, run: 'true' }]\n",
    });
  });
  afterAll(async () => {
    await api.close();
    repo.remove();
  });

  function prEvent(action: string, headSha: string): { name: string; payload: Record<string, unknown> } {
    const payload = examplePayload("pull_request", action);
    const pr = payload.pull_request as { base: { sha: string }; head: { sha: string }; number: number };
    pr.base.sha = base;
    pr.head.sha = headSha;
    return { name: "pull_request", payload };
  }

  it("puts the review in the summary and creates one pull-request comment with a hidden marker", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "diff", "github-token": "ghs_test_token" },
      event: prEvent("opened", head),
      env: { GITHUB_API_URL: api.url, GITHUB_REPOSITORY: "Codertocat/Hello-World" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.summary).toContain("## OpsConductor: what this change does");
    expect(r.summary).toMatch(/### `hello` \(changed\)[\s\S]*\*\*Schedules\*\*[\s\S]*`0 6 \* \* 1` UTC/);
    // From the merge base: the job added on main since is not part of this pull request.
    expect(r.summary).not.toContain("other");
    expect(r.outputs.result).toBe("success");
    const calls = api.requests.map((q) => `${q.method} ${q.url.replace(/\?.*/, "")}`);
    expect(calls).toEqual([
      "GET /repos/Codertocat/Hello-World/issues/2/comments",
      "POST /repos/Codertocat/Hello-World/issues/2/comments",
    ]);
    expect(api.requests.every((q) => q.authorization === "Bearer ghs_test_token")).toBe(true);
    const posted = api.requests[1]?.body?.body ?? "";
    expect(posted.startsWith("<!-- opsconductor-diff path=. -->\n## OpsConductor")).toBe(true);
    // The token was registered as a secret (the runner masks it from then on) and never printed otherwise.
    expect(r.stdout).toContain("::add-mask::ghs_test_token\n");
    expect(withoutMasks(r.stdout)).not.toContain("ghs_test_token");
  });

  it("updates the same comment when the pull request changes again", async () => {
    api.requests.length = 0;
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "diff", "github-token": "ghs_test_token" },
      event: prEvent("synchronize", head2),
      env: { GITHUB_API_URL: api.url, GITHUB_REPOSITORY: "Codertocat/Hello-World" },
    });
    expect(r.status).toBe(0);
    const calls = api.requests.map((q) => `${q.method} ${q.url.replace(/\?.*/, "")}`);
    expect(calls).toEqual([
      "GET /repos/Codertocat/Hello-World/issues/2/comments",
      "PATCH /repos/Codertocat/Hello-World/issues/comments/101",
    ]);
    expect(api.requests[1]?.body?.body).toMatch(/\*\*Targets\*\* 2 → 3: added `more`/);
  });

  it("keeps the review in the summary when commenting is refused (a fork's read-only token)", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "diff", "github-token": "ghs_test_token" },
      event: prEvent("opened", head),
      // Nothing listens here: the API call fails, the step does not.
      env: { GITHUB_API_URL: "http://127.0.0.1:9", GITHUB_REPOSITORY: "Codertocat/Hello-World" },
    });
    expect(r.status).toBe(0);
    expect(r.summary).toContain("## OpsConductor: what this change does");
    expect(r.stdout).toMatch(/::warning::could not comment on the pull request/);
  });

  it("tells a shallow clone to fetch the pull request's commits", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "diff" },
      event: prEvent("opened", "e".repeat(40)),
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/::error::no branch, tag or commit "e{40}"/);
  });
});

describe("command on-push", () => {
  const repo = new TestRepo("opsc-action-push-");
  let server: GitHttpServer;
  let before: string;
  let after: string;
  beforeAll(async () => {
    server = await startGitHttpServer({ token: "ghs_push_token" });
    before = repo.commit({ "opsconductor.yaml": OPSC_YAML, "targets/app.yaml": TARGETS });
    after = repo.commit({ "jobs/hello.yaml": HELLO });
    git(repo.dir, "remote", "add", "origin", server.url);
  });
  afterAll(async () => {
    await server.close();
    repo.remove();
  });

  it("runs the jobs the push triggers and pushes their record to the remote with the workflow's token", async () => {
    const payload = examplePayload("push");
    Object.assign(payload, { ref: "refs/heads/main", before, after });
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "on-push", "github-token": "ghs_push_token" },
      event: { name: "push", payload },
      env: {
        GITHUB_SHA: after,
        GITHUB_REF: "refs/heads/main",
        GITHUB_SERVER_URL: "https://github.example.com",
        GITHUB_REPOSITORY: "acme/ops",
      },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.outputs.result).toBe("success");
    const runId = r.outputs["run-id"] ?? "";
    expect(runId).toMatch(/^\d{8}T\d{6}Z-hello-[0-9a-f]{4}$/);
    expect(r.stdout).toMatch(/hello: success .*push: pushed/);
    expect(r.summary).toContain(runId);
    // A job summary is not in the run folder: its log links are absolute, on the records branch.
    expect(r.summary).toMatch(
      new RegExp(
        `\\[here\\]\\(https://github\\.example\\.com/acme/ops/blob/opsconductor/runs/runs/\\d{4}/\\d\\d/\\d\\d/${runId}/targets/here\\.log\\)`,
      ),
    );
    expect(r.summary).not.toMatch(/\]\(targets\//);
    // The record is on the remote, not only local.
    const files = git(server.bareDir, "ls-tree", "-r", "--name-only", "opsconductor/runs");
    const runJson = files.split("\n").find((f) => f.endsWith(`${runId}/run.json`));
    expect(runJson).toBeDefined();
    const run = JSON.parse(git(server.bareDir, "show", `opsconductor/runs:${runJson}`)) as Record<
      string,
      unknown
    >;
    expect(run).toMatchObject({
      job: "hello",
      result: "success",
      sourceCommit: after,
      trigger: { kind: "push", actor: "github:octocat" },
    });
    expect((run.targets as Array<{ name: string }>).map((t) => t.name).sort()).toEqual(["here", "there"]);
    expect(withoutMasks(r.stdout)).not.toContain("ghs_push_token");
  });

  it("runs nothing for a push that changes no job's paths", async () => {
    const next = repo.commit({ "README.md": "docs only\n" });
    const payload = examplePayload("push");
    Object.assign(payload, { ref: "refs/heads/main", before: after, after: next });
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "on-push", "push-records": "false" },
      event: { name: "push", payload },
    });
    expect(r.status).toBe(0);
    expect(r.summary).toMatch(/No job to run: no job's on.push matches/);
    expect(r.outputs["run-id"]).toBe("");
  });

  it("refuses an event that is not a push", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "on-push" },
      event: { name: "pull_request", payload: examplePayload("pull_request", "opened") },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::command on-push needs a push event, not "pull_request"');
  });
});

describe("command run", () => {
  const repo = new TestRepo("opsc-action-run-");
  let sha: string;
  beforeAll(() => {
    sha = repo.commit({
      "opsconductor.yaml": OPSC_YAML,
      "targets/app.yaml": TARGETS,
      "jobs/hello.yaml": HELLO,
      "jobs/broken.yaml": "targets: { names: [here] }\nsteps:\n  - id: fail\n    run: echo failing; exit 3\n",
    });
  });
  afterAll(() => repo.remove());

  it("runs the job at the workflow's commit with the given inputs and records it", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "run", job: "hello", inputs: "who: octocat", "push-records": "false" },
      env: { GITHUB_SHA: sha, GITHUB_REF: "refs/heads/main" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.outputs.result).toBe("success");
    const id = r.outputs["run-id"] ?? "";
    expect(id).toMatch(/-hello-[0-9a-f]{4}$/);
    expect(r.summary).toContain(id);
    // Not pushed: no link could resolve, so the targets are named without one.
    expect(r.summary).toMatch(/\| here \|/);
    expect(r.summary).not.toMatch(/\]\(targets\//);
    const files = git(repo.dir, "ls-tree", "-r", "--name-only", "opsconductor/runs").split("\n");
    const run = JSON.parse(
      git(repo.dir, "show", `opsconductor/runs:${files.find((f) => f.endsWith(`${id}/run.json`))}`),
    ) as Record<string, unknown>;
    expect(run).toMatchObject({
      sourceCommit: sha,
      inputs: { who: "octocat" },
      trigger: { kind: "manual", actor: "github:octocat" },
    });
  });

  it("fails the step when the run fails, and still records it", async () => {
    const r = await runAction({
      workspace: repo.dir,
      inputs: { command: "run", job: "broken", "push-records": "false" },
    });
    expect(r.status).toBe(1);
    expect(r.outputs.result).toBe("failure");
    expect(r.stdout).toMatch(new RegExp(`::error::run ${r.outputs["run-id"]}: failure`));
  });

  it("refuses a shard that is not K/N", async () => {
    const r = await runAction({ workspace: repo.dir, inputs: { command: "run", job: "hello", shard: "3" } });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("::error::--shard 3: expected K/N with 1 <= K <= N");
  });
});
