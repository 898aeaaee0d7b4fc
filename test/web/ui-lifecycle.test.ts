/**
 * The web UI end to end, as an operator uses it: a real daemon (`archy daemon` as the unprivileged
 * test user, on a free loopback port) over a real rootless Podman service of the test's own, and a
 * real Chromium clicking. First run; an app installed from the App Store with its phases and steps
 * arriving live; its UI opened; stop and start, checked with `podman inspect`; credentials; logs;
 * a failing app's reason and Retry; a reload in the middle of an install; Podman frozen; the daemon
 * gone and back; uninstall keeping data; purge. Waits are on conditions, never on time.
 */
import assert from "node:assert/strict";
import { chownSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import type { YAMLMap } from "yaml";
import { ApiClient } from "../../src/client/rpc.ts";
import { loadManifest } from "../../src/manifest/load.ts";
import { CURRENT_NAMING, containerName } from "../../src/manifest/naming.ts";
import { PASSWORD } from "../api/support.ts";
import { DaemonProcess, daemonConnected } from "../support/daemon-process.ts";
import { eventually, httpGet, Lab, type TestApp } from "../support/driver.ts";
import { buildUniqueImage, forgetImage, startRegistry } from "../support/registry.ts";
import { testUser } from "../support/rootless.ts";
import { freePort } from "../support/samples.ts";
import { recordEventStream, ScanRecorder } from "../support/secret-scan.ts";
import {
  assertAccessible,
  ensureWebBuilt,
  firstRun,
  launch,
  openPage,
  type TestBrowser,
  type WatchedPage,
} from "./browser.ts";

const isRoot = process.getuid?.() === 0;
/** How long a step against real Podman may take on a busy machine before the test says what it saw. */
const STEP_MS = 240_000;
/** The layer of its own an image pulled from the test registry has: seconds of download, throttled. */
const PULLED_LAYER_BYTES = 8 * 1024 * 1024;

describe("real Podman, real browser: the operator's console", () => {
  let lab: Lab;
  let chromium: TestBrowser;
  let daemon: DaemonProcess;
  let args: string[];
  let url: string;
  let dataDir: string;
  let scan: ScanRecorder;
  let api: ApiClient;
  let hello: TestApp;
  let node: TestApp;
  let broken: TestApp;
  let watched: WatchedPage;
  let page: Page;
  let missingImage: string;

  /** Starts the daemon and waits until it is connected; its events go to the secrets scan. */
  const start = async () => {
    daemon = new DaemonProcess(args, scan);
    await daemonConnected(url, daemon);
    const token = readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim();
    daemon.events = recordEventStream(url, token, scan);
    await daemon.events.opened;
  };

  /** The app's card on My Apps, or its page's badge, says this phase. */
  const phaseShown = (phase: string) => page.locator(`.app-head [data-phase="${phase}"]`).waitFor();

  before(async () => {
    ensureWebBuilt();
    lab = await Lab.create();
    hello = await lab.app("hello-web");
    node = await lab.app("mini-node");
    // An app whose image does not exist: it fails at once, with the reason, until the image is there.
    broken = await lab.app("hello-web", { variant: "broken" });
    missingImage = `localhost/archy-test/${lab.prefix}-missing:1`;
    await lab.editManifest(broken, (doc) => {
      doc.set("id", `${lab.prefix}-broken`);
      doc.set("name", "Broken Web");
      doc.delete("adoption");
      ((doc.get("containers") as YAMLMap).get("web") as YAMLMap).set("image", missingImage);
    });
    const renamed = await loadManifest(join(broken.dir, "manifest.yml"));
    assert.ok(renamed.ok);
    broken = {
      ...broken,
      id: `${lab.prefix}-broken`,
      names: { web: containerName(renamed.manifest, "web", CURRENT_NAMING) },
    };
    dataDir = join(lab.root, "daemon");
    mkdirSync(dataDir, { mode: 0o700 });
    if (isRoot) chownSync(dataDir, testUser.uid, testUser.gid);
    // The scan treats this daemon as the operator CLI's: the same harness, another client.
    scan = new ScanRecorder("cli-daemon", `${lab.prefix}-web`, {
      secretsRoot: join(dataDir, "state", "secrets"),
      cliTokenFile: join(dataDir, "state", "cli-token"),
    });
    url = `http://127.0.0.1:${await freePort()}`;
    args = [
      "--data-dir",
      dataDir,
      "--listen",
      url.slice(7),
      "--apps-dir",
      lab.manifestsDir,
      "--podman-socket",
      lab.service.socketPath,
    ];
    await start();
    const tokenFile = join(dataDir, "state", "cli-token");
    api = new ApiClient({
      baseUrl: url,
      auth: { kind: "token", token: () => readFileSync(tokenFile, "utf8").trim(), refresh: () => true },
    });
    chromium = await launch();
    watched = await openPage(chromium.browser, url);
    page = watched.page;
    page.setDefaultTimeout(STEP_MS);
    await watched.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: url });
  });

  after(async () => {
    await chromium?.close();
    await daemon?.stop();
    await lab?.podman(["rmi", "--ignore", missingImage]).catch(() => {});
    if (scan) {
      scan.storeRecords(join(dataDir, "state", "store.db"));
      scan.harvest();
    }
    await lab?.close();
    scan?.close();
  });

  test("first run, then an app installed from the App Store: phases and steps arrive live, its UI opens", async () => {
    await page.goto("/");
    await firstRun(page, PASSWORD);
    await page.getByRole("link", { name: "App Store" }).first().click();
    await page.getByRole("link", { name: "Hello Web", exact: true }).first().click();
    await page.getByRole("heading", { name: "What it needs" }).waitFor();
    await page.getByText(`Opens port ${hello.ports["web/8080"]}/tcp to this node only`).waitFor();
    // Every phase the page shows, as it shows it (recorded in the page, whatever the test is doing).
    await page.evaluate(`(() => {
      window.__phases = [];
      new MutationObserver(() => {
        const badge = document.querySelector(".app-head [data-phase]");
        const phase = badge && badge.getAttribute("data-phase");
        if (phase && window.__phases[window.__phases.length - 1] !== phase) window.__phases.push(phase);
      }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    })()`);
    await page.getByRole("button", { name: "Install", exact: true }).click();
    await page.waitForURL(new RegExp(`/apps/${hello.id}$`));
    await page.getByRole("status").getByText("Installing…").waitFor();
    await page.locator(".step[data-seq]").first().waitFor();
    await page.getByRole("status").getByText("Installed").waitFor();
    await phaseShown("running");
    const phases = await page.evaluate<string[]>("window.__phases");
    assert.equal(phases[0], "installing", `phases shown: ${phases}`);
    assert.equal(phases.at(-1), "running", `phases shown: ${phases}`);
    // The steps shown are the operation's log, each once, in order.
    const operation = (await api.call("operation.list", { appId: hello.id }))[0];
    assert.ok(operation);
    const logged = await api.call("operation.get", { id: operation.id });
    const shown = await page
      .locator(".step[data-seq]")
      .evaluateAll((items) => items.map((i) => Number(i.getAttribute("data-seq"))));
    assert.deepEqual(
      shown,
      logged.logs.map((l) => l.seq),
    );

    // Open leads to the app behind the operator's login, at its own name on the daemon's port (the
    // proxy's own tests open it in Chromium with the node's authority trusted: test/proxy/apps.test.ts).
    const open = page.getByRole("link", { name: /^Open/ }).first();
    assert.match(
      (await open.getAttribute("href")) ?? "",
      new RegExp(`^https://${hello.id.replaceAll(".", "\\.")}\\.localhost:\\d+/$`),
    );
    const port = hello.ports["web/8080"] as number;
    const answer = await httpGet(port);
    assert.equal(answer?.status, 200);
    await page.locator('[data-container="web"]').getByText("running").first().waitFor();
    await assertAccessible(page, "a running app's page");
  });

  test("stop and start from the app's page; Podman agrees", async () => {
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await phaseShown("stopped");
    await eventually(
      "podman inspect: not running",
      async () => (await lab.inspect(hello.names.web as string))?.running === false,
      STEP_MS,
    );
    await page.getByRole("button", { name: "Start", exact: true }).click();
    await phaseShown("running");
    assert.equal(
      (await lab.inspect(hello.names.web as string))?.running,
      true,
      "podman inspect: running again",
    );
  });

  test("logs: followed live, searchable", async () => {
    const marker = `ui-log-marker-${Date.now()}`;
    await page.getByTestId("logs").waitFor();
    await lab.exec(hello.names.web as string, `echo ${marker} > /proc/1/fd/1`);
    await page.getByTestId("logs").getByText(marker).waitFor();
    await page.getByLabel("Search the logs").fill(marker);
    await eventually(
      "only the matching line is shown",
      async () => (await page.getByTestId("logs").textContent())?.trim() === marker,
      STEP_MS,
    );
    await page.getByLabel("Search the logs").fill("");
  });

  test("Backups: an app backed up now with its progress shown live; restored after a confirmation naming what is replaced and that it is saved first", async () => {
    const repos = join(lab.root, "targets");
    mkdirSync(repos, { mode: 0o700 });
    if (isRoot) chownSync(repos, testUser.uid, testUser.gid);
    await api.call("backup.targets.add", { name: "ui", location: join(repos, "ui") });
    // Enough data that restic reports its progress (once a second) before it is done.
    await lab.exec(hello.names.web as string, "head -c 200000000 /dev/urandom > /data/blob.bin");
    await lab.exec(hello.names.web as string, "echo before the backup > /data/notes.txt");
    await page.goto("/backups");
    const card = page.locator('[data-target="ui"]');
    const form = card.getByRole("form", { name: "Back up to ui" });
    await form.getByLabel("App").selectOption(hello.id);
    await form.getByRole("button", { name: "Back up now" }).click();
    await card.getByRole("status").getByText("Backed up", { exact: true }).waitFor();
    const progress = card.getByTestId("backup-progress");
    assert.match((await progress.textContent()) ?? "", /^\d+% · \d+ of \d+ files · .+ of .+/);
    assert.equal(await progress.getByRole("progressbar", { name: `Backup of ${hello.id}` }).count(), 1);
    const snapshot = card.locator("[data-snapshot]");
    await snapshot.first().waitFor();
    assert.equal(await snapshot.count(), 1);

    await lab.exec(hello.names.web as string, "echo after the backup > /data/notes.txt");
    await card.getByRole("button", { name: new RegExp(`^Restore ${hello.id} from `) }).click();
    const dialog = page.getByRole("dialog", { name: new RegExp(`^Restore ${hello.id} from `) });
    await dialog.getByText(`The data of ${hello.id} on this node is replaced by the snapshot of`).waitFor();
    await dialog.getByText("Its current data is backed up to ui first").waitFor();
    await assertAccessible(page, "Backups asking to confirm a restore");
    await dialog.getByRole("button", { name: "Restore", exact: true }).click();
    await card.getByRole("status").getByText("Restored", { exact: true }).waitFor();
    // The data it replaced was saved first: listed, and the data is the snapshot's.
    await snapshot
      .getByTestId("snapshot-facts")
      .getByText(/taken before a restore$/)
      .waitFor();
    await eventually(
      "the restored data",
      async () =>
        (await lab.exec(hello.names.web as string, "cat /data/notes.txt").catch(() => "")) ===
        "before the backup\n",
      STEP_MS,
    );
    await lab.exec(hello.names.web as string, "rm -f /data/blob.bin");
    await page.goto(`/apps/${hello.id}`);
    await phaseShown("running");
  });

  test("an install that pulls its image shows a progress line for it, live: bytes, rate, time left, then pulled", async (t) => {
    const registry = await startRegistry();
    t.after(() => registry.stop());
    const local = await buildUniqueImage(`${lab.prefix}-pulled`, PULLED_LAYER_BYTES);
    const pushed = await registry.push(`archy/${lab.prefix}-pulled:1`, local);
    await forgetImage(local);
    // Slow enough for Podman's once-a-second progress to see the layer's bytes go by.
    const slow = await registry.throttled(PULLED_LAYER_BYTES / 4);
    t.after(() => slow.close());
    const image = pushed.pinned.replace(registry.host, slow.host);
    t.after(() => forgetImage(image).catch(() => {}));
    await api.call("registry.login", {
      host: slow.host,
      username: registry.username,
      password: registry.password,
    });
    const id = `${lab.prefix}-pulled`;
    const pulled = await lab.app("hello-web", { variant: "pulled" });
    await lab.editManifest(pulled, (doc) => {
      doc.set("id", id);
      doc.set("name", "Pulled Web");
      doc.delete("adoption");
      ((doc.get("containers") as YAMLMap).get("web") as YAMLMap).set("image", image);
    });
    t.after(() => api.call("package.uninstall", { id, purge: true }).catch(() => {})); // when it failed
    // The daemon re-reads its apps directory at most every 3 s, and the page re-read the offers
    // when the previous test's operations ended: an app written a moment ago may not be offered yet.
    await eventually(
      "the daemon to offer the app just written",
      async () => ((await api.call("package.available")).some((a) => a.id === id) ? true : undefined),
      STEP_MS,
    );
    await page.goto(`/store/${id}`);
    await page.getByRole("button", { name: "Install", exact: true }).click();
    const line = page.locator(`[data-image="${image}"]`);
    await line.getByText(/\/s · .+ left · \d+ of \d+ layers$/).waitFor();
    assert.equal(await line.getByRole("progressbar", { name: `Pulling ${image}` }).count(), 1);
    await assertAccessible(page, "an install pulling its image");
    await line.getByText(/pulled · \S+ \S+$/).waitFor();
    await phaseShown("running");
    // Gone before the next test: a purge still in flight when Podman is frozen there has nothing to show.
    await api.call("package.uninstall", { id, purge: true });
    await eventually(
      "the pulled app purged",
      async () => ((await api.call("package.list")).some((a) => a.id === id) ? undefined : true),
      STEP_MS,
    );
  });

  test("an app that asks for permissions shows them before install; credentials masked, revealed, copied", async () => {
    await page.goto("/store");
    await page.getByRole("link", { name: "Mini Node", exact: true }).click();
    // Its permissions are shown in plain words before anything is installed, and approved by the
    // click that installs it.
    const asked = page.getByRole("list", { name: "Permissions to approve" });
    await asked.getByText("Seeds key generation from the host's hardware random number generator.").waitFor();
    assert.equal(await asked.getByRole("listitem").count(), 3, "a host folder, a device, a capability");
    await page.getByRole("button", { name: "Approve and install", exact: true }).click();
    await page.waitForURL(new RegExp(`/apps/${node.id}$`));
    await phaseShown("running");
    const approved = (await api.call("package.get", { id: node.id })).permissions;
    assert.deepEqual(
      approved.map((p) => [p.name, p.approved, p.approvedBy]),
      [
        ["bootstrap", true, "operator"],
        ["hwrng", true, "operator"],
        ["mlock", true, "operator"],
      ],
    );
    const expected = (await api.call("package.credentials", { id: node.id }))[0]?.password;
    assert.ok(expected);
    const secret = page.getByTestId("secret").first();
    assert.equal(await secret.textContent(), "••••••••••••", "masked until asked");
    assert.ok(!(await page.content()).includes(expected), "the password is not in the page before Reveal");
    await page.getByRole("button", { name: "Reveal the password of RPC login" }).click();
    await secret.getByText(expected).waitFor();
    await page.getByRole("button", { name: "Copy the password of RPC login" }).click();
    await page.getByRole("button", { name: "Copy the password of RPC login" }).getByText("Copied").waitFor();
    assert.equal(await page.evaluate<string>("navigator.clipboard.readText()"), expected);
    await page.getByRole("button", { name: "Hide the password of RPC login" }).click();
    assert.equal(await secret.textContent(), "••••••••••••");
  });

  test("a failing app shows the daemon's reason; Retry works once the cause is gone", async () => {
    await api.call("package.install", { id: broken.id });
    await page.goto("/");
    const card = page.locator(`[data-app="${broken.id}"]`);
    await card.locator('[data-phase="failed"]').waitFor();
    const reason = await card.getByTestId("reason").textContent();
    const stored = await api.call("package.get", { id: broken.id });
    assert.equal(reason, stored.reason, "the reason as the daemon words it");
    assert.match(reason ?? "", /missing/);
    await lab.podman(["tag", "localhost/archy-test/busybox:1", missingImage]);
    await card.getByRole("button", { name: `Retry ${broken.id}` }).click();
    await card.locator('[data-phase="running"]').waitFor();
    assert.equal((await lab.inspect(broken.names.web as string))?.running, true);
  });

  test("a reload in the middle of an install catches up: every step once, in order, to the end", async () => {
    await api.call("package.uninstall", { id: broken.id });
    await eventually(
      "the broken app is gone",
      async () => !(await api.call("package.list")).some((a) => a.id === broken.id),
      STEP_MS,
    );
    await page.goto(`/store/${broken.id}`);
    await page.getByRole("button", { name: "Install", exact: true }).click();
    await page.waitForURL(new RegExp(`/apps/${broken.id}$`));
    await page.locator(".step[data-seq]").first().waitFor();
    await page.reload();
    await page
      .getByRole("status")
      .getByText(/^(Installing…|Installed)$/)
      .waitFor();
    await page.getByRole("status").getByText("Installed").waitFor();
    const operation = (await api.call("operation.list", { appId: broken.id }))[0];
    assert.ok(operation && operation.kind === "install" && operation.state === "succeeded");
    const logged = await api.call("operation.get", { id: operation.id });
    const shown = await page
      .locator(".step[data-seq]")
      .evaluateAll((items) => items.map((i) => Number(i.getAttribute("data-seq"))));
    assert.deepEqual(
      shown,
      logged.logs.map((l) => l.seq),
      "no lost line, none twice",
    );
  });

  test("Podman frozen: My Apps still lists every app with the age of what it shows", async () => {
    const pid = lab.service.pid;
    assert.ok(pid, "the lab's Podman service runs");
    const installed = (await api.call("package.list")).map((a) => a.id).sort();
    process.kill(-pid, "SIGSTOP");
    try {
      await page.goto("/");
      for (const id of installed)
        await page
          .locator(`[data-app="${id}"] [data-testid="age"]`)
          .getByText(/^as of /)
          .waitFor();
      const listed = await page
        .locator("[data-app]")
        .evaluateAll((items) => items.map((i) => i.getAttribute("data-app")));
      assert.deepEqual([...listed].sort(), installed);
      // A page opened anew while Podman is frozen shows the same.
      await page.reload();
      await page.locator(`[data-app="${hello.id}"] [data-phase="running"]`).waitFor();
    } finally {
      process.kill(-pid, "SIGCONT");
    }
  });

  test("the daemon gone and back: the page says the connection is lost, then catches up", async () => {
    await page.goto(`/apps/${hello.id}`);
    await phaseShown("running");
    await daemon.stop();
    await page.getByRole("status").getByText("Connection to the node lost").waitFor();
    // Back: the banner goes, the page reads the state again (a new stream) and acts again.
    await start();
    await page.getByRole("status").getByText("Connection to the node lost").waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await phaseShown("stopped");
  });

  test("uninstall keeps the data; purge deletes it (the kept data from My Apps, an installed app's from its page); each confirmed, naming what is lost", async () => {
    const appData = join(dataDir, "apps", hello.id);
    await page.getByRole("button", { name: "Uninstall", exact: true }).click();
    const keep = page.getByRole("dialog", { name: "Uninstall Hello Web?" });
    await keep.getByText("Its data, secrets and credentials are kept").waitFor();
    await keep.getByRole("button", { name: "Uninstall, keep data" }).click();
    await page.getByRole("heading", { name: `${hello.id} is not installed` }).waitFor();
    assert.ok(await lab.exists(appData), "the data stays after an uninstall");
    assert.equal(await lab.inspect(hello.names.web as string), undefined, "no container left");

    // What the uninstall kept is listed on My Apps, and purged from there once confirmed.
    await page.goto("/");
    const kept = page
      .getByRole("region", { name: "Data kept from uninstalled apps" })
      .locator(`[data-kept="${hello.id}"]`);
    await kept.getByText(new RegExp(`/apps/${hello.id}$`)).waitFor();
    await kept.getByRole("button", { name: "Delete the kept data of Hello Web" }).click();
    const forGood = page.getByRole("dialog", { name: "Delete the kept data of Hello Web?" });
    await forGood.getByText("This cannot be undone").waitFor();
    await forGood.getByRole("button", { name: "Delete for good" }).click();
    await page.waitForURL(new RegExp(`/apps/${hello.id}$`));
    await eventually("the kept data is deleted", async () => !(await lab.exists(appData)), STEP_MS);
    await page.getByRole("heading", { name: `${hello.id} is not installed` }).waitFor();

    await page.getByRole("link", { name: "See it in the App Store" }).click();
    await page.getByRole("button", { name: "Install", exact: true }).click();
    await phaseShown("running");
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const purge = page.getByRole("dialog", { name: "Uninstall and delete data Hello Web?" });
    await purge.getByText("This cannot be undone").waitFor();
    await purge.getByRole("button", { name: "Delete everything" }).click();
    await page.getByRole("heading", { name: `${hello.id} is not installed` }).waitFor();
    await eventually("the data is deleted", async () => !(await lab.exists(appData)), STEP_MS);
    watched.assertClean([/Failed to load resource/, /WebSocket connection to .* failed/]);
  });
});
