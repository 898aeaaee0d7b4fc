/**
 * The web UI against a real daemon (in-process, on a free loopback port) and a real Chromium, with
 * a Podman that never answers (test/api/support.ts): what does not need containers. How the daemon
 * serves the UI (same origin, strict CSP, files by exact name only); the first run, the login, a
 * session that ends; every page accessible (axe: no serious or critical violation), in light and
 * dark, on a phone's 375 px; keyboard-only use; My Apps never empty while Podman does not answer;
 * the App Store listing marketplace apps (a real relay on loopback) with their publisher's trust.
 * The lifecycle against real Podman: ui-lifecycle.test.ts.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { CONTENT_SECURITY_POLICY } from "../../src/api/web-ui.ts";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { npub } from "../../src/marketplace/identity.ts";
import { http, manualClock, ok, PASSWORD, setup, startDaemon, type TestDaemon } from "../api/support.ts";
import { type Lab, lab } from "../catalog/support.ts";
import { appDir, devKey, publishDir } from "../marketplace/support.ts";
import {
  assertAccessible,
  atRest,
  describedAs,
  ensureWebBuilt,
  firstRun,
  launch,
  logIn,
  openTestPage,
  type TestBrowser,
} from "./browser.ts";

let chromium: TestBrowser;
before(async () => {
  ensureWebBuilt();
  chromium = await launch();
});
after(() => chromium?.close());

/** Presses Tab until the focused element has this accessible name (at most `limit` times). */
async function tabTo(page: Page, name: RegExp, limit = 40): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    // The focused element's name: its aria-label, its label's text, or its own text.
    const focused = await page.evaluate<string>(`(() => {
      const element = document.activeElement;
      if (!element) return "";
      const label = element.labels && element.labels[0] ? element.labels[0].textContent : null;
      return (element.getAttribute("aria-label") ?? label ?? element.textContent ?? "").trim();
    })()`);
    seen.push(focused);
    if (name.test(focused)) return;
  }
  assert.fail(`Tab never reached ${name}; focus went through: ${seen.join(" | ")}`);
}

/**
 * A repeated password that differs is named to the field itself (its description), and submitting
 * waits for it to match. The page's new password field holds "too short" or is empty.
 */
async function assertMismatchDescribed(page: Page): Promise<void> {
  const repeat = page.getByLabel("Repeat the new password");
  assert.equal(await describedAs(repeat), "", "no mismatch while nothing differs");
  await repeat.fill("something else");
  assert.equal(await describedAs(repeat), "The two passwords differ.");
  assert.equal(await repeat.getAttribute("aria-invalid"), "true");
  await repeat.fill("");
}

describe("how the daemon serves the UI", () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d.close());

  test("the page and its files come with a strict CSP that forbids inline script and framing", async () => {
    const page = await http(d.port, { path: "/" });
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.equal(page.headers["content-security-policy"], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self';/);
    assert.match(CONTENT_SECURITY_POLICY, /frame-ancestors 'none'/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|https?:|\*/);
    assert.equal(page.headers["x-frame-options"], "DENY");
    assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script in the page");
    assert.doesNotMatch(page.text, /https?:\/\//, "the page names no other origin");
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.text)?.[1];
    assert.ok(script, page.text);
    const js = await http(d.port, { path: script, headers: { "accept-encoding": "gzip, br" } });
    assert.equal(js.status, 200);
    assert.equal(js.headers["content-encoding"], "gzip");
    assert.match(String(js.headers["cache-control"]), /immutable/);
    assert.equal(js.headers["content-security-policy"], CONTENT_SECURITY_POLICY);
  });

  test("every route of the UI gets the page; a path is never a file path", async () => {
    for (const path of [
      "/login",
      "/setup",
      "/store",
      "/store/api-alpha",
      "/settings",
      "/backups",
      "/apps/api-alpha",
    ]) {
      const response = await http(d.port, { path });
      assert.equal(response.status, 200, path);
      assert.match(response.text, /<div id="root">/, path);
    }
    for (const path of [
      "/assets/../package.json",
      "/%2e%2e/package.json",
      "/assets/..%2f..%2fpackage.json",
      "/src/api/auth.ts",
      "/.build-inputs.json",
      "/assets/nope.js",
      "/web/dist/index.html",
    ]) {
      const response = await http(d.port, { path });
      assert.ok(response.status === 404 || response.status === 400, `${path}: ${response.status}`);
      assert.doesNotMatch(response.text, /"name": "archipelago"|import |sha256|"src\//, path);
    }
    const foreign = await http(d.port, { path: "/", headers: { host: "evil.example" } });
    assert.equal(foreign.status, 403, "a page asked for under another name is refused (DNS rebinding)");
  });
});

describe("first run, login, logout and a session that ends", () => {
  const clock = manualClock();
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ clock: clock.now });
  });
  after(() => d.close());

  test("a node without a password asks for one, and the operator lands on My Apps", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/store");
    await page.getByRole("heading", { name: "Set your password" }).waitFor();
    await assertAccessible(page, "first run");
    await page.getByLabel("New password", { exact: true }).fill("too short");
    await assertMismatchDescribed(page);
    await page.getByLabel("Repeat the new password").fill("too short");
    await page.getByRole("button", { name: "Set password and continue" }).click();
    // The daemon's own words, not the page's.
    await page.getByRole("alert").getByText("the password must have at least 10 characters").waitFor();
    await firstRun(page, PASSWORD);
    await page.getByText("No apps installed yet.").waitFor();
    await assertAccessible(page, "My Apps, empty");
    assertClean();
  });

  test("logout leads to the login; a wrong password is refused in the daemon's words; the right one enters", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/");
    await logIn(page, "not the password at all");
    await page.getByRole("alert").getByText("wrong password").waitFor();
    await assertAccessible(page, "login with an error");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "My Apps" }).waitFor();
    await page.getByRole("button", { name: "Log out", exact: true }).click();
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    // The session is gone for the daemon too: a reload stays on the login.
    await page.reload();
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    assertClean([/401|Failed to load resource/]);
  });

  test("a session that expires sends to the login with the page kept, and back to it after logging in", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/settings");
    await logIn(page, PASSWORD);
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/settings", "back where the operator was going");
    // The page reads its settings, and again once its live stream says hello: the session must
    // expire after that, or a read the page makes on its own meets the expiry before the click.
    await atRest(page);
    clock.advance(13 * 60 * 60 * 1000); // sessions last 12 h
    await page.getByRole("link", { name: "App Store" }).click();
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    await page.getByText("Your session has ended").waitFor();
    assert.equal(
      new URL(page.url()).searchParams.get("next"),
      "/store",
      "what the operator was doing is kept",
    );
    await logIn(page, PASSWORD);
    await page.getByRole("heading", { name: "App Store" }).waitFor();
    assertClean([/401|Failed to load resource/]);
  });

  test("Settings changes the password with the old one, naming a repeat that differs to its field", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/settings");
    await logIn(page, PASSWORD);
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await assertMismatchDescribed(page);
    await assertAccessible(page, "Settings with a repeated password that differs");
    const changed = `${PASSWORD} and more`;
    await page.getByLabel("Current password").fill(PASSWORD);
    await page.getByLabel("New password", { exact: true }).fill(changed);
    await page.getByLabel("Repeat the new password").fill(changed);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByRole("status").getByText("Password changed.").waitFor();
    // The new one is the password now.
    await page.getByRole("button", { name: "Log out", exact: true }).click();
    await logIn(page, changed);
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    assertClean();
  });
});

describe("every page, for everyone", () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
    const session = await setup(d.port);
    for (const id of ["api-alpha", "api-gamma"]) {
      const response = await fetch(`${d.url}/rpc/v1`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: session.cookie, "x-csrf-token": session.csrf },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "package.install", params: { id } }),
      });
      assert.ok(((await response.json()) as { result?: unknown }).result);
    }
  });
  after(() => d.close());

  const PAGES: Array<[string, string]> = [
    ["/", "My Apps"],
    ["/store", "App Store"],
    ["/store/api-beta", "api-beta"],
    ["/apps/api-gamma", "api-gamma"],
    ["/settings", "Settings"],
    ["/backups", "Backups"],
  ];

  for (const [viewport, scheme] of [
    [{ width: 1280, height: 820 }, "light"],
    [{ width: 375, height: 740 }, "dark"],
  ] as const)
    test(`no serious accessibility violation, nothing wider than the screen: ${viewport.width} px, ${scheme}`, async (t) => {
      const { page, assertClean } = await openTestPage(t, chromium.browser, d.url, {
        viewport,
        colorScheme: scheme,
      });
      await page.goto("/");
      await logIn(page, PASSWORD);
      await page.getByRole("heading", { name: "My Apps" }).waitFor();
      for (const [path, heading] of PAGES) {
        await page.goto(path);
        await page.getByRole("heading", { name: heading, exact: true, level: 1 }).waitFor();
        await page.waitForLoadState("networkidle");
        await assertAccessible(page, `${path} at ${viewport.width} px, ${scheme}`);
        const width = await page.evaluate<number>("document.documentElement.scrollWidth");
        assert.ok(
          width <= viewport.width,
          `${path}: the page is ${width} px wide on a ${viewport.width} px screen`,
        );
      }
      // Phone: the navigation is at hand at the bottom of the screen.
      if (viewport.width === 375) {
        const nav = await page.getByRole("navigation", { name: "Main" }).boundingBox();
        assert.ok(
          nav && nav.y + nav.height <= viewport.height && nav.y > viewport.height / 2,
          JSON.stringify(nav),
        );
      }
      assertClean([/Failed to load resource.*503|podman/i]);
    });

  test("keyboard only: log in, go to the App Store, open an app, install it", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/");
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    await tabTo(page, /^Password$/);
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "My Apps" }).waitFor();
    await tabTo(page, /^App Store$/);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "App Store", level: 1 }).waitFor();
    await tabTo(page, /^api-beta$/);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "api-beta", level: 1 }).waitFor();
    // api-beta needs api-alpha, installed already: one Install.
    await tabTo(page, /^Install$/);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/apps\/api-beta$/);
    await page.getByRole("status").getByText("Installing…").waitFor();
    // A destructive action's confirmation is answered by keyboard too, and Escape cancels it.
    await tabTo(page, /^Delete$/);
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Uninstall and delete data api-beta?" });
    await dialog.waitFor();
    await dialog.getByText("cannot be undone").waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assertClean();
  });

  test("while Podman does not answer, My Apps lists every app with the age of what it shows", async (t) => {
    // The last observation is ten minutes old; Podman has answered nothing since.
    const observedAt = Date.now() - 10 * 60 * 1000;
    d.orchestrator.store.saveObservation("api-alpha", [
      {
        appId: "api-alpha",
        key: "web",
        name: "api-alpha-web",
        containerId: "0123456789ab",
        state: "running",
        health: "healthy",
        exitCode: 0,
        restarts: 0,
        startedAt: observedAt - 60_000,
        backend: "podman",
        specHash: undefined,
        observedAt,
      },
    ]);
    const { page } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/");
    await logIn(page, PASSWORD);
    const cards = page.getByRole("list", { name: "Installed apps" }).getByRole("listitem");
    await page.locator('[data-app="api-beta"]').waitFor();
    assert.deepEqual(
      (await cards.evaluateAll((items) => items.map((i) => i.getAttribute("data-app")))).sort(),
      ["api-alpha", "api-beta", "api-gamma"],
    );
    assert.match(
      (await page.locator('[data-app="api-alpha"] [data-testid="age"]').textContent()) ?? "",
      /^as of 10 min ago$/,
    );
    await page.getByTestId("stale").getByText("Podman is not answering").waitFor();
  });

  test("an app's page shows how many times each container started again", async (t) => {
    const observedAt = Date.now();
    d.orchestrator.store.saveObservation("api-gamma", [
      {
        appId: "api-gamma",
        key: "web",
        name: "api-gamma-web",
        containerId: "0123456789ac",
        state: "running",
        health: "healthy",
        exitCode: 0,
        restarts: 3,
        startedAt: observedAt - 60_000,
        backend: "podman",
        specHash: undefined,
        observedAt,
      },
    ]);
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/apps/api-gamma");
    await logIn(page, PASSWORD);
    const restarts = page.locator('[data-container="web"] [data-testid="restarts"]');
    await restarts.waitFor();
    assert.equal(await restarts.textContent(), "3");
    await assertAccessible(page, "an app's page with its containers");
    assertClean([/Failed to load resource.*503|podman/i]);
  });
});

describe("catalog sources in Settings", () => {
  let d: TestDaemon;
  let published: Lab;
  let other: Lab;
  before(async () => {
    d = await startDaemon();
    await setup(d.port);
    published = await lab();
    await published.release(published.app("cat-one", "1.0.0"));
    other = await lab(); // another publisher's catalog: its root pins nothing of the first
    await other.release();
  });
  after(async () => {
    await d?.close();
    published?.close();
    other?.close();
  });

  test("the operator adds a catalog with its pinned root, sees its refresh, its apps in the store, and removes it", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/settings");
    await logIn(page, PASSWORD);
    await page.getByText("No signed catalog is configured.").waitFor();
    const rootOf = (catalog: Lab) => readFileSync(join(catalog.out, "metadata", "1.root.json"), "utf8");
    await page.getByLabel("Name", { exact: true }).fill("community");
    await page.getByLabel("Where it is published").fill(published.out);
    // A root that is not the catalog's: refused in the daemon's words, nothing added.
    await page.getByLabel("Its root.json, from the publisher").fill(rootOf(other));
    await page.getByRole("button", { name: "Verify and add" }).click();
    await page
      .getByRole("alert")
      .getByText(/^catalog community was not added: /)
      .waitFor();
    assert.deepEqual(
      await ok(d.port, "catalog.sources", {}, { bearer: readFileSync(d.tokenFile, "utf8").trim() }),
      [],
    );
    await page.getByLabel("Its root.json, from the publisher").fill(rootOf(published));
    await page.getByRole("button", { name: "Verify and add" }).click();
    const source = page.locator('[data-source="community"]');
    await source.getByText(/^1 app · refreshed /).waitFor();
    assert.equal(await source.locator(".chip").textContent(), "ok");
    await assertAccessible(page, "Settings with an added catalog");
    await page.getByRole("link", { name: "App Store" }).click();
    await page.locator('[data-app="cat-one"]').getByText("Signed catalog “community”").waitFor();
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("button", { name: "Remove community" }).click();
    const dialog = page.getByRole("dialog", { name: "Remove the catalog community?" });
    await dialog.getByRole("button", { name: "Remove" }).click();
    await page.getByText("No signed catalog is configured.").waitFor();
    assert.deepEqual(
      await ok(d.port, "catalog.sources", {}, { bearer: readFileSync(d.tokenFile, "utf8").trim() }),
      [],
    );
    assertClean([/Failed to load resource/]);
  });
});

describe("the App Store and the marketplace", () => {
  let d: TestDaemon;
  let relay: DevRelay;
  let base: string;
  const alice = devKey();
  const bob = devKey();
  let caller: { bearer: string };
  before(async () => {
    base = mkdtempSync(join(tmpdir(), "archy-ui-market-"));
    relay = await startDevRelay({ bundlesDir: join(base, "mirror") });
    d = await startDaemon();
    await setup(d.port);
    caller = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
    await ok(d.port, "market.relays.add", { url: relay.url }, caller);
    // Two publishers offer an app of the same id: two apps, each its publisher's.
    // It asks for a permission: the marketplace install asks the operator, as a catalog app's does.
    const asks = `    capabilities: [SYS_ADMIN]
permissions:
  admin: { kind: capability, capability: SYS_ADMIN, reason: Mounts its own file systems }
`;
    for (const key of [alice, bob]) await publishDir(key, appDir(base, "alice.notes", "1.0.0", asks), relay);
    const statuses = (await ok(d.port, "market.refresh", {}, caller)) as Array<{ error: string | null }>;
    assert.equal(statuses[0]?.error, null, JSON.stringify(statuses));
  });
  after(async () => {
    await d?.close();
    await relay?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test("marketplace apps are listed beside the sources' with their publisher and trust score, one card per publisher, on a phone too", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url, {
      viewport: { width: 375, height: 740 },
    });
    await page.goto("/store");
    await logIn(page, PASSWORD);
    await page.getByRole("heading", { name: "App Store", level: 1 }).waitFor();
    const market = page.locator('[data-app="alice.notes"]');
    await market.nth(1).waitFor();
    assert.deepEqual(
      (await market.evaluateAll((cards) => cards.map((c) => c.getAttribute("data-source")))).sort(),
      [`nostr:${npub(alice.pubkey)}`, `nostr:${npub(bob.pubkey)}`].sort(),
    );
    for (const key of [alice, bob]) {
      const card = page.locator(`[data-source="nostr:${npub(key.pubkey)}"]`);
      assert.equal(await card.getByTestId("trust").textContent(), "Trust 0/100 · unknown");
      assert.notEqual((await card.getByTestId("trust-reasons").textContent()) ?? "", "");
      assert.match((await card.getByText(/^Marketplace: npub1/).getAttribute("title")) ?? "", /^nostr:npub1/);
      // Listed only: its page before install is a source app's (what it asks is known at install).
      assert.equal(await card.getByRole("link").count(), 0);
    }
    // A source's app keeps its page, and shows no marketplace trust.
    const local = page.locator('[data-app="api-alpha"]');
    assert.equal(await local.getByRole("link", { name: "api-alpha" }).count(), 1);
    assert.equal(await local.getByTestId("trust").count(), 0);
    await assertAccessible(page, "App Store with marketplace apps at 375 px");
    const width = await page.evaluate<number>("document.documentElement.scrollWidth");
    assert.ok(width <= 375, `the App Store is ${width} px wide on a 375 px screen`);
    assertClean();
  });

  test("a marketplace app installs from its card: its publisher shown whole, the risk of an unknown one confirmed, its permissions approved", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/store");
    await logIn(page, PASSWORD);
    const alicesKey = npub(alice.pubkey);
    const card = page.locator(`[data-source="nostr:${alicesKey}"]`);
    await card.getByRole("button", { name: /^Install App alice\.notes from Marketplace: npub1/ }).click();
    const dialog = page.getByRole("dialog", { name: "Install App alice.notes from the marketplace?" });
    await dialog.waitFor();
    assert.equal(await dialog.getByTestId("publisher").textContent(), alicesKey);
    assert.equal(await dialog.getByTestId("trust").textContent(), "Trust 0/100 · unknown");
    await dialog.getByRole("button", { name: "Install", exact: true }).click();
    // Below the threshold: the daemon's words name the risk, and nothing is installed until confirmed.
    await dialog
      .getByRole("alert")
      .getByText(/install it only if you trust it/)
      .waitFor();
    await assertAccessible(page, "a marketplace install asking to confirm the risk");
    await dialog.getByRole("button", { name: "I trust this publisher: install" }).click();
    // Verified, it asks for what its manifest requests, as a catalog app does.
    await dialog
      .getByRole("list", { name: "Permissions to approve" })
      .getByText(/SYS_ADMIN/)
      .waitFor();
    assert.deepEqual(
      await ok(d.port, "package.list", {}, caller),
      [],
      "nothing installed before the approval",
    );
    await dialog.getByRole("button", { name: "Approve and install" }).click();
    await page.waitForURL(/\/apps\/alice\.notes$/);
    const installed = (await ok(d.port, "package.get", { id: "alice.notes" }, caller)) as { source: string };
    assert.equal(installed.source, `nostr:${alicesKey}`, "Alice's app, not Bob's of the same id");
    assertClean();
  });
});

describe("the Backups page", () => {
  let d: TestDaemon;
  let base: string;
  before(async () => {
    d = await startDaemon();
    const session = await setup(d.port);
    base = mkdtempSync(join(tmpdir(), "archy-ui-backups-"));
    await ok(d.port, "backup.targets.add", { name: "usb", location: join(base, "usb") }, session);
  });
  after(async () => {
    await d?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test("a target's schedule and retention are set from the page, a bad one refused in the daemon's words; Check now verifies it", async (t) => {
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    await page.goto("/backups");
    await logIn(page, PASSWORD);
    await page.getByRole("heading", { name: "Backups", level: 1 }).waitFor();
    await page.getByText("No alert: every backup and check went well.").waitFor();
    const card = page.locator('[data-target="usb"]');
    assert.equal(await card.locator("dd").first().textContent(), "only when asked");
    const form = card.getByRole("form", { name: "Schedule of usb" });
    await form.getByLabel("Back up every app").fill("daily 25:00");
    await form.getByRole("button", { name: "Save the schedule of usb" }).click();
    await form
      .getByRole("alert")
      .getByText(/schedule: "25:00" is not a time of day/)
      .waitFor();
    await form.getByLabel("Back up every app").fill("daily 03:00");
    await form.getByLabel("Keep daily").fill("7");
    await form.getByLabel("Keep weekly").fill("4");
    await form.getByLabel("Check the repository").fill("weekly sun 04:00");
    await form.getByRole("button", { name: "Save the schedule of usb" }).click();
    await form.getByText("Saved.").waitFor();
    await card.getByText("7 daily, 4 weekly").waitFor();
    assert.deepEqual(await card.locator("dd").allTextContents(), [
      "daily 03:00",
      "7 daily, 4 weekly",
      "weekly sun 04:00",
    ]);
    const listed = (await ok(
      d.port,
      "backup.targets.list",
      {},
      { bearer: readFileSync(d.tokenFile, "utf8").trim() },
    )) as {
      targets: Array<{ schedule: string | null; keep: object; check: string | null }>;
    };
    assert.deepEqual(listed.targets[0], {
      ...listed.targets[0],
      schedule: "daily 03:00",
      keep: { daily: 7, weekly: 4 },
      check: "weekly sun 04:00",
    });
    await card.getByRole("button", { name: "Check now" }).click();
    await card.getByText("Sound: 0 snapshots.").waitFor();
    await card.getByText("No snapshot yet.").waitFor();
    await assertAccessible(page, "Backups with a target");
    assertClean();
  });

  test("a target is added from the page, its new key shown once; a bad location refused in the daemon's words; removed after a confirmation naming what stays", async (t) => {
    const bearer = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
    const names = async () =>
      ((await ok(d.port, "backup.targets.list", {}, bearer)) as { targets: Array<{ name: string }> }).targets
        .map((target) => target.name)
        .sort();
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url, {
      viewport: { width: 375, height: 740 },
    });
    await page.goto("/backups");
    await logIn(page, PASSWORD);
    const form = page.getByRole("form", { name: "Add a target" });
    await form.getByLabel("Name").fill("offsite");
    await form.getByLabel("Where").fill("relative/backups");
    await form.getByRole("button", { name: "Add the target" }).click();
    await form
      .getByRole("alert")
      .getByText(/location: "relative\/backups" is not an absolute directory path/)
      .waitFor();
    assert.deepEqual(await names(), ["usb"], "nothing added");
    const location = join(base, "offsite");
    await form.getByLabel("Where").fill(location);
    await form.getByRole("button", { name: "Add the target" }).click();
    const shown = page.getByTestId("new-key");
    await shown.getByText("Save the key of offsite now").waitFor();
    const keyFile = join(d.dataDir, "backup", "targets", "offsite", "key");
    assert.equal(await shown.getByTestId("key").textContent(), readFileSync(keyFile, "utf8").trim());
    await page.locator('[data-target="offsite"]').waitFor();
    assert.deepEqual(await names(), ["offsite", "usb"]);
    await assertAccessible(page, "Backups with a new target's key shown, at 375 px");
    const width = await page.evaluate<number>("document.documentElement.scrollWidth");
    assert.ok(width <= 375, `Backups is ${width} px wide on a 375 px screen`);
    await shown.getByRole("button", { name: "I have saved the key" }).click();
    await shown.waitFor({ state: "detached" });

    await page.getByRole("button", { name: "Remove offsite" }).click();
    const dialog = page.getByRole("dialog", { name: "Remove the target offsite?" });
    await dialog.getByText("The repository and its snapshots stay where they are").waitFor();
    await dialog.getByRole("button", { name: "Remove" }).click();
    await page.locator('[data-target="offsite"]').waitFor({ state: "detached" });
    assert.deepEqual(await names(), ["usb"]);
    assert.ok(existsSync(join(location, "config")), "the repository stays where it is");
    assertClean([/Failed to load resource/]);
  });
});
