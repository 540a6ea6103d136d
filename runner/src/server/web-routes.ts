/**
 * The dashboard's files, built by scripts/build.mjs into dist/web and served
 * from the installed package: hashed assets cached for good, index.html for
 * every page path (the app routes on the client), all under a strict
 * Content-Security-Policy that allows nothing from another host.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // MUI (emotion) inserts <style> elements at run time.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

/** Paths the app answers on the client; anything else unknown stays a JSON 404. */
const PAGES = /^\/(?:runs|jobs|targets|schedules|audit)?(?:\/.*)?$/;

/** dist/web beside the bundle (dist/opsc.js or dist/chunks/*.js), or under the package root when run from source. */
export function webRoot(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [
    path.resolve(here, "web"),
    path.resolve(here, "../web"),
    path.resolve(here, "../../../dist/web"),
  ]) {
    if (existsSync(path.join(candidate, "index.html"))) return candidate;
  }
  return undefined;
}

export function webRoutes(root = webRoot()): express.Router {
  const r = express.Router();
  r.use((_req, res, next) => {
    res.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "same-origin");
    next();
  });
  if (!root) {
    r.get(PAGES, (_req, res) => {
      res.status(404).type("text/plain").send("the dashboard is not built: run `npm run build`");
    });
    return r;
  }
  const index = readFileSync(path.join(root, "index.html"), "utf8");
  r.use(
    "/assets",
    express.static(path.join(root, "assets"), { immutable: true, maxAge: "365d", fallthrough: false }),
  );
  r.get(PAGES, (_req, res) => {
    res.set("Cache-Control", "no-cache").type("html").send(index);
  });
  return r;
}
