/**
 * Headless Chromium (the Debian `chromium` package) driven by puppeteer-core,
 * for the dashboard's browser tests. Nothing is downloaded: the browser is the
 * system's, and every page talks only to the loopback server under test.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The browser's path, or undefined when this machine has none (the tests then say so and skip). */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p));
}

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath()!,
    headless: true,
    args: [
      "--no-sandbox",
      "--headless=new",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-gpu",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A page signed in with a bearer token, at desktop size unless told. */
export async function signedInPage(
  browser: Browser,
  token: string,
  viewport = { width: 1280, height: 800 },
): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  await page.setExtraHTTPHeaders({ Authorization: `Bearer ${token}` });
  return page;
}

const require = createRequire(import.meta.url);

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const result = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: () => Promise<{ violations: unknown[] }> } }).axe;
    return axe.run();
  })) as { violations: AxeViolation[] };
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
}
