/**
 * Marketplace publishers' NIP-05 handles in the App Store, against a real daemon, a real relay on
 * loopback, the publishers' domains on loopback HTTPS under a test authority (never the internet)
 * and a real Chromium: a card shows `handle ✓` only once the node verified the handle; the install
 * dialog shows the handle either way, with the node's reason.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { npub } from "../../src/marketplace/identity.ts";
import { ok, PASSWORD, setup, startDaemon, type TestDaemon } from "../api/support.ts";
import { appDir, devKey, type Nip05Domains, nip05Domains, publishDir } from "../marketplace/support.ts";
import {
  assertAccessible,
  ensureWebBuilt,
  launch,
  logIn,
  openTestPage,
  type TestBrowser,
} from "./browser.ts";

// Alice's domain names her key; Bob claims a name his domain does not give.
const alice = { ...devKey(), nip05: "alice@example.test" };
const bob = { ...devKey(), nip05: "bob@example.test" };

let chromium: TestBrowser;
let domains: Nip05Domains;
let relay: DevRelay;
let d: TestDaemon;
let base: string;
before(async () => {
  ensureWebBuilt();
  chromium = await launch();
  domains = await nip05Domains(["example.test"], (_request, response) => {
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ names: { alice: alice.pubkey } }));
  });
  base = mkdtempSync(join(tmpdir(), "archy-ui-nip05-"));
  relay = await startDevRelay({ bundlesDir: join(base, "mirror") });
  d = await startDaemon({ nip05Dispatcher: domains.dispatcher });
  await setup(d.port);
  const caller = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
  await ok(d.port, "market.relays.add", { url: relay.url }, caller);
  for (const key of [alice, bob]) await publishDir(key, appDir(base, "alice.notes", "1.0.0"), relay);
  const statuses = (await ok(d.port, "market.refresh", {}, caller)) as Array<{ error: string | null }>;
  assert.equal(statuses[0]?.error, null, JSON.stringify(statuses));
});
after(async () => {
  await d?.close();
  await relay?.close();
  await domains?.close();
  await chromium?.close();
  rmSync(base, { recursive: true, force: true });
});

test("a card shows `handle ✓` only for a verified handle, named for screen readers; the install dialog gives the handle and the node's reason", async (t) => {
  const { page, assertClean } = await openTestPage(t, chromium.browser, d.url);
  await page.goto("/store");
  await logIn(page, PASSWORD);
  await page.getByRole("heading", { name: "App Store", level: 1 }).waitFor();
  const card = (key: { pubkey: string }) => page.locator(`[data-source="nostr:${npub(key.pubkey)}"]`);
  const verified = card(alice).getByTestId("nip05");
  await verified.waitFor();
  assert.equal(await verified.textContent(), "alice@example.test ✓ (verified NIP-05 address)");
  assert.equal(
    await verified.locator('[aria-hidden="true"]').textContent(),
    " ✓",
    "the tick is not read out",
  );
  assert.equal(await card(bob).getByTestId("nip05").count(), 0, "an unverified handle is not on the card");
  assert.equal(await card(bob).getByText("bob@example.test").count(), 0);
  await assertAccessible(page, "the App Store with a verified NIP-05 handle");

  const install = (key: { pubkey: string }) =>
    card(key)
      .getByRole("button", { name: /^Install App alice\.notes from Marketplace: npub1/ })
      .click();
  const dialog = page.getByRole("dialog", { name: "Install App alice.notes from the marketplace?" });
  await install(bob);
  assert.equal(
    await dialog.getByTestId("nip05-detail").textContent(),
    "NIP-05 address bob@example.test: not verified (example.test: its nostr.json does not name bob)",
  );
  await assertAccessible(page, "a marketplace install with an unverified NIP-05 handle");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "hidden" });
  await install(alice);
  assert.equal(
    await dialog.getByTestId("nip05-detail").textContent(),
    "NIP-05 address alice@example.test: verified (example.test names this key alice)",
  );
  assertClean();
});
