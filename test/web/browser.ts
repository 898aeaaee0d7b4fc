/**
 * The web UI's browser tests drive Debian's Chromium (`/usr/bin/chromium`, installed by host setup)
 * through playwright-core: Playwright's own browser download is never used. Each launch gets a fresh
 * profile and the flags that keep Chromium off the network. Every page records what would be a
 * defect anywhere: a script error, a console error, a Content-Security-Policy violation, a request
 * to another origin; `assertClean` fails on any.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import AxeBuilder from "@axe-core/playwright";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { REPO_ROOT } from "../support/stage.ts";

export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Builds web/dist when it is missing or stale (as `npm test` and `npm run demo` do first). */
export function ensureWebBuilt(): void {
  execFileSync(
    join(REPO_ROOT, "node_modules", ".bin", "node"),
    [join(REPO_ROOT, "scripts", "build-web.ts")],
    {
      cwd: REPO_ROOT,
      stdio: "pipe",
    },
  );
}

export type TestBrowser = { browser: Browser; close: () => Promise<void> };

export async function launch(): Promise<TestBrowser> {
  assert.ok(
    existsSync(CHROMIUM),
    `no ${CHROMIUM}: install Debian's chromium (sudo bin/archy doctor --fix does)`,
  );
  // Playwright gives each launch a fresh, empty --user-data-dir of its own and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  return { browser, close: () => browser.close() };
}

export type WatchedPage = {
  page: Page;
  context: BrowserContext;
  /** Script errors, console errors, CSP violations and requests to other origins, as they came. */
  problems: string[];
  /** Fails when any problem was seen (`allow` lists patterns of console errors that are expected). */
  assertClean: (allow?: RegExp[]) => void;
};

export async function openPage(
  browser: Browser,
  origin: string,
  options: { viewport?: { width: number; height: number }; colorScheme?: "light" | "dark" } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 820 },
    colorScheme: options.colorScheme ?? "light",
    baseURL: origin,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("ws://127.0.0.1") && !url.startsWith("data:"))
      problems.push(`request to another origin: ${url}`);
  });
  return {
    page,
    context,
    problems,
    assertClean: (allow = []) => {
      const unexpected = problems.filter((p) => !allow.some((pattern) => pattern.test(p)));
      assert.deepEqual(unexpected, [], "no script error, console error, CSP violation or foreign request");
    },
  };
}

/**
 * A watched page whose context closes when the test ends, passed or failed. A page left open keeps
 * its WebSocket to the daemon, and the daemon's close (in the suite's `after`) waits for it: a test
 * that failed before closing its page would hang the whole file instead of failing it.
 */
export async function openTestPage(
  t: TestContext,
  browser: Browser,
  origin: string,
  options: Parameters<typeof openPage>[2] = {},
): Promise<WatchedPage> {
  const watched = await openPage(browser, origin, options);
  t.after(() => watched.context.close());
  return watched;
}

/** Zero serious or critical accessibility violations (axe-core) on the page as it is now. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    serious.map(
      (v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
    ),
    [],
    `${what}: no serious or critical accessibility violation`,
  );
}

/** What a screen reader reads as a field's description: the texts its aria-describedby names. */
export async function describedAs(field: Locator): Promise<string> {
  return field.evaluate((element) =>
    (element.getAttribute("aria-describedby") ?? "")
      .split(/\s+/)
      .map((id: string) => element.ownerDocument.getElementById(id)?.textContent ?? "")
      .join(" ")
      .trim(),
  );
}

/** Sets the operator password through the first-run page; ends on My Apps. */
export async function firstRun(page: Page, password: string): Promise<void> {
  await page.getByRole("heading", { name: "Set your password" }).waitFor();
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the new password").fill(password);
  await page.getByRole("button", { name: "Set password and continue" }).click();
  await page.getByRole("heading", { name: "My Apps" }).waitFor();
}

export async function logIn(page: Page, password: string): Promise<void> {
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/**
 * Waits until what the page shows is current: its live stream open and no read in flight (the
 * shell's `data-freshness`). A test that changes the daemon behind the page's back (moves its
 * clock, stops its Podman) does it from there, not while the page is still reading.
 */
export async function atRest(page: Page): Promise<void> {
  await page.locator('main[data-freshness="current"]').waitFor();
}
