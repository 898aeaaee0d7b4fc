/**
 * The data uninstalled apps left on the node, on My Apps, against a real daemon (in-process, a
 * Podman that never answers: the purge is accepted and recorded; its run on real Podman is
 * test/orchestrator/lifecycle.test.ts) and a real Chromium: each app with what is kept, a purge
 * behind a confirmation that names what is lost, and an app no source offers left to the operator.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  keepData,
  ok,
  PASSWORD,
  type Session,
  setup,
  startDaemon,
  TEST_APPS,
  type TestDaemon,
} from "../api/support.ts";
import {
  assertAccessible,
  ensureWebBuilt,
  launch,
  logIn,
  openTestPage,
  type TestBrowser,
} from "./browser.ts";

let chromium: TestBrowser;
let d: TestDaemon;
let session: Session;
before(async () => {
  ensureWebBuilt();
  chromium = await launch();
  d = await startDaemon({ apps: { "api-alpha": TEST_APPS["api-alpha"] as string } });
  session = await setup(d.port);
});
after(async () => {
  await d?.close();
  await chromium?.close();
});

/** What an uninstall that kept the data leaves: the app's data directory, with a file in it. */
const keep = (id: string): string => keepData(d.dataDir, id);

test("My Apps lists kept data; Delete asks first naming what is lost, Cancel keeps it, confirming purges it; an app no source offers is left to the operator", async (t) => {
  const alpha = keep("api-alpha");
  const gone = keep("api-gone");
  const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
  await page.goto("/");
  await logIn(page, PASSWORD);
  const section = page.getByRole("region", { name: "Data kept from uninstalled apps" });
  await section.waitFor();
  const item = (id: string) => section.locator(`[data-kept="${id}"]`);
  await item("api-alpha").getByText(alpha, { exact: true }).waitFor();
  await item("api-gone").getByText(gone, { exact: true }).waitFor();
  await item("api-gone")
    .getByText(/No source offers api-gone any more/)
    .waitFor();
  assert.equal(await item("api-gone").getByRole("button").count(), 0, "no purge the daemon would refuse");
  await assertAccessible(page, "My Apps with kept data");

  await section.getByRole("button", { name: "Delete the kept data of api-alpha" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete the kept data of api-alpha?" });
  await dialog.waitFor();
  await dialog.getByText(/deleted for good: its data, its update snapshots, its generated secrets/).waitFor();
  await dialog.getByText(alpha, { exact: true }).waitFor();
  await assertAccessible(page, "the confirmation of a kept data purge");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "hidden" });
  assert.deepEqual(
    ((await ok(d.port, "package.kept", {}, session)) as Array<{ id: string }>).map((k) => k.id),
    ["api-alpha", "api-gone"],
    "Cancel changes nothing",
  );

  await section.getByRole("button", { name: "Delete the kept data of api-alpha" }).click();
  await dialog.getByRole("button", { name: "Delete for good" }).click();
  await page.waitForURL(/\/apps\/api-alpha$/);
  const purging = (await ok(d.port, "package.get", { id: "api-alpha" }, session)) as { desired: string };
  assert.equal(purging.desired, "absent", "the purge is recorded for the app");
  const operations = (await ok(d.port, "operation.list", { appId: "api-alpha" }, session)) as Array<{
    kind: string;
  }>;
  assert.equal(operations[0]?.kind, "purge");
  assertClean([/Failed to load resource.*503|podman/i]);
});
