import { execFileSync } from "node:child_process";
import fs from "node:fs";
import git from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { startGitHttpServer } from "/work/main/runner/test/helpers/git-http-server.ts";
const s = await startGitHttpServer();
const dir = fs.mkdtempSync("/tmp/h4/repo-");
execFileSync("git", ["init", "-q", dir]);
execFileSync("git", ["-C", dir, "commit", "-q", "--allow-empty", "-m", "x"]);
execFileSync("git", ["-C", dir, "remote", "add", "origin", s.url]);
console.log("pushing");
const t = setTimeout(() => { console.log("timeout, requests", s.requests()); process.exit(1); }, 8000);
try {
  const r = await git.push({ fs, http, dir, remote: "origin", ref: "master", remoteRef: "master", onMessage: (m) => console.log("msg", m) });
  console.log(r);
} catch (e) { console.log("err", e); }
clearTimeout(t);
await s.close();
