/**
 * Apps' icons in the web UI, against a real daemon (in-process, a Podman that never answers) and a
 * real Chromium: an icon that came with the app is served by the daemon on its own origin and shown
 * in the App Store, My Apps and the app's page; one that is not an image (HTML named icon.svg) is
 * refused and the app's initials shown; an SVG holding a script is shown, and its script never runs
 * (only <img>, and the daemon's CSP sandbox when opened directly); an https icon is never fetched.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ICON_HEADERS } from "../../src/api/icons.ts";
import { http, ok, PASSWORD, type Session, setup, startDaemon, type TestDaemon } from "../api/support.ts";
import {
  assertAccessible,
  ensureWebBuilt,
  launch,
  logIn,
  openTestPage,
  type TestBrowser,
} from "./browser.ts";

/** A valid 1×1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
/** An SVG whose script, if it ever ran, would say so on the console and mark the document. */
const SVG_WITH_SCRIPT = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">
<script>console.log("the icon's script ran"); document.documentElement.setAttribute("data-ran", "yes");</script>
<rect width="32" height="32" fill="#0a7"/></svg>`;
const HTML = `<!doctype html><html><body><script>console.log("the HTML icon ran")</script></body></html>`;

const manifest = (id: string, icon: string) => `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: An app with an icon
icon: ${icon}
containers:
  web:
    image: localhost/archy-test/busybox:1
`;

const APPS = {
  "pic-png": manifest("pic-png", "icon.png"),
  "pic-svg": manifest("pic-svg", "art/icon.svg"),
  "pic-html": manifest("pic-html", "icon.svg"),
  "pic-url": manifest("pic-url", "https://icons.example.org/pic.png"),
};
const FILES = { "pic-png/icon.png": PNG, "pic-svg/art/icon.svg": SVG_WITH_SCRIPT, "pic-html/icon.svg": HTML };

/** What a refused icon leaves on the console: the browser's note of the failed load. */
const REFUSED_LOAD = /Failed to load resource: the server responded with a status of 415/;

let chromium: TestBrowser;
let d: TestDaemon;
let session: Session;
before(async () => {
  ensureWebBuilt();
  chromium = await launch();
  d = await startDaemon({ apps: APPS, files: FILES });
  session = await setup(d.port);
});
after(async () => {
  await d?.close();
  await chromium?.close();
});

type Offered = { id: string; source: string; icon: string | null };

describe("the daemon serves an app's icon from its package, and only an image", () => {
  let offered: Offered[];
  before(async () => {
    offered = (await ok(d.port, "package.available", {}, session)) as Offered[];
  });
  const iconOf = (id: string) => offered.find((a) => a.id === id)?.icon ?? null;
  const get = (path: string, headers: Record<string, string> = {}) =>
    http(d.port, { path, headers: { cookie: session.cookie, ...headers } });

  test("an icon file has a same-origin URL; an https icon has none (the daemon never fetches it)", () => {
    for (const id of ["pic-png", "pic-svg", "pic-html"])
      assert.match(iconOf(id) ?? "", new RegExp(`^/icons/v1/${id}\\?source=local%3A%2F`), id);
    assert.equal(iconOf("pic-url"), null);
  });

  test("a PNG: its type sniffed, an ETag of its content answered by 304, inert headers; only with a session", async () => {
    const png = await get(iconOf("pic-png") ?? "");
    assert.equal(png.status, 200, png.text);
    assert.equal(png.headers["content-type"], "image/png");
    for (const [name, value] of Object.entries(ICON_HEADERS)) assert.equal(png.headers[name], value, name);
    const etag = String(png.headers.etag);
    assert.match(etag, /^"[A-Za-z0-9_-]{43}"$/);
    assert.equal((await get(iconOf("pic-png") ?? "", { "if-none-match": etag })).status, 304);
    const stranger = await http(d.port, { path: iconOf("pic-png") ?? "" });
    assert.equal(stranger.status, 401, "no session, no icon");
  });

  test("an SVG is served sandboxed (CSP sandbox, nosniff); HTML named icon.svg is refused, saying why", async () => {
    const svg = await get(iconOf("pic-svg") ?? "");
    assert.equal(svg.status, 200, svg.text);
    assert.equal(svg.headers["content-type"], "image/svg+xml");
    assert.match(String(svg.headers["content-security-policy"]), /^default-src 'none';.*\bsandbox\b/);
    assert.equal(svg.headers["x-content-type-options"], "nosniff");
    const html = await get(iconOf("pic-html") ?? "");
    assert.equal(html.status, 415);
    assert.match(html.text, /pic-html's icon icon\.svg is not a PNG, JPEG, WebP or SVG image: refused/);
    assert.doesNotMatch(String(html.headers["content-type"]), /html/);
  });

  test("an icon is only the named app's, from the named source: another source, a path or a bad id is refused", async () => {
    const wrongSource = await get("/icons/v1/pic-png?source=local%3A%2Fetc");
    assert.equal(wrongSource.status, 404);
    assert.match(wrongSource.text, /local:\/etc offers no app pic-png/);
    assert.equal((await get("/icons/v1/pic-png")).status, 400, "no source");
    for (const path of ["/icons/v1/..%2F..%2Fetc%2Fpasswd?source=x", "/icons/v1/%00?source=x"]) {
      const response = await get(path);
      assert.ok(response.status === 400 || response.status === 404, `${path}: ${response.status}`);
      assert.doesNotMatch(response.text, /root:/);
    }
  });
});

describe("icons in the pages", () => {
  test("the store, My Apps and the app's page show the icon; a refused or remote one falls back to initials; axe clean", async (t) => {
    await ok(d.port, "package.install", { id: "pic-png" }, session);
    const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
    const consoleLines: string[] = [];
    page.on("console", (message) => consoleLines.push(message.text()));
    await page.goto("/store");
    await logIn(page, PASSWORD);
    await page.getByRole("heading", { name: "App Store", level: 1 }).waitFor();
    const card = (id: string) => page.locator(`[data-app="${id}"]`);
    const loaded = (id: string) =>
      card(id)
        .getByTestId("app-icon")
        .evaluate((element) => {
          const img = element as unknown as { complete: boolean; naturalWidth: number };
          return img.complete ? img.naturalWidth : 0;
        });
    await card("pic-png").getByTestId("app-icon").waitFor();
    await page.waitForLoadState("networkidle");
    assert.equal(await loaded("pic-png"), 1, "the 1×1 PNG is drawn");
    assert.equal(await loaded("pic-svg"), 32, "the SVG is drawn");
    await card("pic-html").getByTestId("app-initials").waitFor();
    assert.equal(await card("pic-html").getByTestId("app-icon").count(), 0, "the refused icon is replaced");
    assert.equal(await card("pic-url").getByTestId("app-initials").textContent(), "PU");
    await assertAccessible(page, "the App Store with icons");

    await page.goto("/");
    await page.getByRole("heading", { name: "My Apps" }).waitFor();
    await page.locator('[data-app="pic-png"]').getByTestId("app-icon").waitFor();
    await assertAccessible(page, "My Apps with an icon");
    await page.goto("/apps/pic-png");
    await page.getByRole("heading", { name: "pic-png", level: 1 }).waitFor();
    await page.locator(".app-head").getByTestId("app-icon").waitFor();
    await page.goto("/store/pic-svg");
    await page.getByRole("heading", { name: "pic-svg", level: 1 }).waitFor();
    await page.locator(".app-head").getByTestId("app-icon").waitFor();
    await page.waitForLoadState("networkidle");

    assert.deepEqual(
      consoleLines.filter((line) => /icon's script ran|HTML icon ran/.test(line)),
      [],
      "no icon's script ran in the pages",
    );
    // assertClean also fails on any request to another origin: the https icon was never asked for.
    assertClean([REFUSED_LOAD]);
  });

  test("an SVG icon opened directly is inert: its script never runs (CSP sandbox)", async (t) => {
    const { page } = await openTestPage(t, chromium.browser, d.url);
    const consoleLines: string[] = [];
    page.on("console", (message) => consoleLines.push(message.text()));
    await page.goto("/");
    await logIn(page, PASSWORD);
    await page.getByRole("heading", { name: "My Apps" }).waitFor();
    const offered = (await ok(d.port, "package.available", {}, session)) as Offered[];
    const url = offered.find((a) => a.id === "pic-svg")?.icon ?? "";
    const response = await page.goto(url);
    assert.equal(response?.status(), 200);
    await page.locator("rect").waitFor({ state: "attached" });
    assert.equal(
      await page.evaluate<string | null>(`document.documentElement.getAttribute("data-ran")`),
      null,
      "the script did not mark the document",
    );
    assert.deepEqual(
      consoleLines.filter((line) => /icon's script ran/.test(line)),
      [],
      "the script did not run",
    );
  });
});
