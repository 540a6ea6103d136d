/**
 * A real Git smart-HTTP server for tests: `git http-backend` (CGI) behind a
 * small node http server on 127.0.0.1, over a bare repository that accepts
 * pushes (`http.receivepack true`), or over a repository the caller prepared
 * under `root` (`existing`). Optionally demands a token (Basic auth).
 */
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

export interface GitHttpServer {
  /** `http://127.0.0.1:PORT/records.git` (or `/NAME` of an `existing` repository) */
  url: string;
  /** Path of the bare repository on disk. */
  bareDir: string;
  /** Number of requests served. */
  requests(): number;
  /** Every request served, in order: `GET /records.git/info/refs?service=...`, `POST /records.git/git-receive-pack`. */
  log(): string[];
  close(): Promise<void>;
}

function gitExecPath(): string {
  return execFileSync("git", ["--exec-path"], { encoding: "utf8" }).trim();
}

export async function startGitHttpServer(
  options: { token?: string; root?: string; existing?: string } = {},
): Promise<GitHttpServer> {
  const root = options.root ?? fs.mkdtempSync(path.join(os.tmpdir(), "opsc-git-http-"));
  const name = options.existing ?? "records.git";
  const bareDir = path.join(root, name);
  if (options.existing === undefined) seedRecordsRepository(root, bareDir);
  return serve(root, name, bareDir, options.token);
}

function seedRecordsRepository(root: string, bareDir: string): void {
  execFileSync("git", ["init", "--quiet", "--bare", bareDir]);
  execFileSync("git", ["-C", bareDir, "config", "http.receivepack", "true"]);
  // Like a real automation repository, the remote has a main branch; isomorphic-git's
  // fetch also needs the remote HEAD to resolve (it fails on an unborn HEAD).
  const seed = path.join(root, "seed");
  execFileSync("git", ["init", "--quiet", "-b", "main", seed]);
  fs.writeFileSync(path.join(seed, "opsconductor.yaml"), "name: test\n");
  execFileSync("git", ["-C", seed, "add", "."]);
  execFileSync("git", [
    "-C",
    seed,
    "-c",
    "user.name=seed",
    "-c",
    "user.email=seed@example.com",
    "commit",
    "-qm",
    "seed",
  ]);
  execFileSync("git", ["-C", seed, "push", "--quiet", bareDir, "main"]);
  execFileSync("git", ["-C", bareDir, "symbolic-ref", "HEAD", "refs/heads/main"]);
  fs.rmSync(seed, { recursive: true, force: true });
}

async function serve(root: string, name: string, bareDir: string, token?: string): Promise<GitHttpServer> {
  const backend = path.join(gitExecPath(), "git-http-backend");
  let served = 0;
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    served++;
    log.push(`${req.method ?? "GET"} ${req.url ?? "/"}`);
    if (token !== undefined) {
      const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end("authentication required\n");
        return;
      }
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const child = spawn(backend, [], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ""),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        REMOTE_ADDR: "127.0.0.1",
        REMOTE_USER: "tester",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    child.stderr.resume();
    child.on("close", () => {
      if (!headersDone) res.writeHead(502).end("git http-backend failed\n");
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${name}`,
    bareDir,
    requests: () => served,
    log: () => [...log],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
