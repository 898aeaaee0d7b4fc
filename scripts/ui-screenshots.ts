/**
 * Regenerates the screenshots of docs/ui.md: a real daemon over a real rootless Podman (a test lab
 * of the sample apps: run as root, like `npm test`), driven by Debian's Chromium as an operator
 * would, at 1280 px (light) and 375 px (dark). Writes docs/ui/*.png.
 *
 *   node scripts/ui-screenshots.ts
 */
import { chownSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import type { YAMLMap } from "yaml";
import { ApiClient } from "../src/client/rpc.ts";
import { DaemonProcess, daemonConnected } from "../test/support/daemon-process.ts";
import { eventually, Lab } from "../test/support/driver.ts";
import { testUser } from "../test/support/rootless.ts";
import { freePort } from "../test/support/samples.ts";
import { REPO_ROOT } from "../test/support/stage.ts";
import { ensureWebBuilt, firstRun, launch, logIn, openPage } from "../test/web/browser.ts";

const OUT = join(REPO_ROOT, "docs", "ui");
const PASSWORD = "a screenshot password";

ensureWebBuilt();
mkdirSync(OUT, { recursive: true });
const lab = await Lab.create();
const chromium = await launch();
let daemon: DaemonProcess | undefined;
try {
  const hello = await lab.app("hello-web");
  const node = await lab.app("mini-node");
  const explorer = await lab.app("mini-explorer");
  await lab.app("notes");
  const broken = await lab.app("hello-web", { variant: "broken" });
  await lab.editManifest(broken, (doc) => {
    doc.set("id", `${lab.prefix}-photos`);
    doc.set("name", "Photo Frame");
    doc.set("category", "media");
    doc.delete("adoption");
    ((doc.get("containers") as YAMLMap).get("web") as YAMLMap).set(
      "image",
      "localhost/archy-test/photo-frame:2",
    );
  });
  const dataDir = join(lab.root, "daemon");
  mkdirSync(dataDir, { mode: 0o700 });
  if (process.getuid?.() === 0) chownSync(dataDir, testUser.uid, testUser.gid);
  const url = `http://127.0.0.1:${await freePort()}`;
  daemon = new DaemonProcess([
    "--data-dir",
    dataDir,
    "--listen",
    url.slice(7),
    "--apps-dir",
    lab.manifestsDir,
    "--podman-socket",
    lab.service.socketPath,
  ]);
  await daemonConnected(url, daemon);
  const api = new ApiClient({
    baseUrl: url,
    auth: { kind: "token", token: () => readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim() },
  });
  /** A full-page screenshot once every image of the page (apps' icons) has loaded or failed. */
  const shoot = async (page: Page, name: string) => {
    await page.waitForFunction("Array.from(document.images).every((image) => image.complete)");
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  };
  /** Installs through the API, approving what the app asks for (as the store's button does). */
  const install = async (id: string) => {
    const offered = (await api.call("package.available")).find((a) => a.id === id);
    await api.call("package.install", {
      id,
      approve: (offered?.permissions ?? []).map(({ name, content }) => ({ name, content })),
    });
  };
  const running = (id: string) =>
    eventually(
      `${id} running`,
      async () => (await api.call("package.get", { id })).phase === "running",
      240_000,
    );

  const desk = await openPage(chromium.browser, url);
  const page = desk.page;
  page.setDefaultTimeout(240_000);
  await page.goto("/");
  await page.getByRole("heading", { name: "Set your password" }).waitFor();
  const newPassword = page.getByLabel("New password", { exact: true });
  const repeat = page.getByLabel("Repeat the new password");
  await newPassword.fill(PASSWORD);
  await repeat.fill(PASSWORD);
  await shoot(page, "first-run");
  await newPassword.fill("");
  await repeat.fill("");
  await firstRun(page, PASSWORD);

  // The store, an app's page in it (what it needs), and an install as it happens.
  await page.goto("/store");
  await page.getByRole("link", { name: "Notes", exact: true }).waitFor();
  await shoot(page, "app-store");
  await page.goto(`/store/${explorer.id}`);
  await page.getByRole("heading", { name: "What it needs" }).waitFor();
  await shoot(page, "store-app");
  await page.goto(`/store/${hello.id}`);
  await page.getByRole("button", { name: "Install", exact: true }).click();
  await page.locator(".step[data-seq]").nth(2).waitFor();
  await shoot(page, "installing");
  await running(hello.id);
  await install(node.id);
  await running(node.id);
  await install(explorer.id);
  await running(explorer.id);
  await install(`${lab.prefix}-photos`);
  await eventually(
    "the photo frame failed",
    async () => (await api.call("package.get", { id: `${lab.prefix}-photos` })).phase === "failed",
    240_000,
  );
  await page.goto("/");
  await page.locator('[data-phase="failed"]').waitFor();
  await shoot(page, "my-apps");
  await page.goto(`/apps/${node.id}`);
  await page.locator('.app-head [data-phase="running"]').waitFor();
  await page.getByTestId("logs").waitFor();
  await page.getByTestId("logs").getByText("Loading…").waitFor({ state: "hidden" });
  await shoot(page, "app");
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByRole("dialog").waitFor();
  await page.screenshot({ path: join(OUT, "confirm-purge.png") });
  await page.keyboard.press("Escape");
  await page.goto("/settings");
  await page.getByText("Podman").first().waitFor();
  await page.locator(".facts").waitFor();
  await shoot(page, "settings");
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await shoot(page, "login");

  const phone = await openPage(chromium.browser, url, {
    viewport: { width: 375, height: 760 },
    colorScheme: "dark",
  });
  phone.page.setDefaultTimeout(240_000);
  await phone.page.goto("/");
  await logIn(phone.page, PASSWORD);
  await phone.page.locator('[data-phase="failed"]').waitFor();
  await shoot(phone.page, "phone-my-apps");
  await phone.page.goto(`/apps/${hello.id}`);
  await phone.page.locator('.app-head [data-phase="running"]').waitFor();
  await phone.page.screenshot({ path: join(OUT, "phone-app.png") });

  // An app uninstalled with its data kept: My Apps lists what it left, to delete once confirmed.
  await api.call("package.uninstall", { id: explorer.id });
  await eventually(
    `${explorer.id} uninstalled`,
    async () => !(await api.call("package.list")).some((a) => a.id === explorer.id),
    240_000,
  );
  await page.goto("/");
  await logIn(page, PASSWORD);
  const kept = page.getByRole("region", { name: "Data kept from uninstalled apps" });
  await kept.locator(`[data-kept="${explorer.id}"]`).waitFor();
  await kept.scrollIntoViewIfNeeded();
  await shoot(page, "kept-data");
  console.log(`screenshots written to ${OUT}`);
} finally {
  await chromium.close();
  await daemon?.stop();
  await lab.close();
}
