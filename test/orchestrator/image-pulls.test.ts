/**
 * Images pulled from a real registry (Debian's docker-registry on loopback, TLS from a test CA, basic
 * auth) by the real rootless Podman, through the stand-in daemon: an app pinned by digest installs
 * with per-layer progress in its events and log; a refusal, an unknown digest, bytes that do not
 * match their digest and a registry that is down each fail the operation with a clear error naming
 * the image, before anything of the app is created, or (an update) with the old version running.
 *
 * One lab and one registry for the file; each test pushes an image of its own (a unique layer), so
 * that its pull really downloads.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { YAMLMap } from "yaml";
import { LABELS } from "../../src/manifest/naming.ts";
import { formatBytes } from "../../src/orchestrator/update.ts";
import { type Driver, Lab, type Message, type OperationRecord, type TestApp } from "../support/driver.ts";
import {
  buildUniqueImage,
  forgetImage,
  type PushedImage,
  startRegistry,
  type TestRegistry,
} from "../support/registry.ts";

const LAYER_BYTES = 3 * 1024 * 1024;

let lab: Lab;
let registry: TestRegistry;
let driver: Driver;
const pushed: PushedImage[] = [];

/** A new image in the registry: its own layer of LAYER_BYTES, not on the node. */
async function newImage(name: string): Promise<PushedImage> {
  const local = await buildUniqueImage(`${lab.prefix}-${name}`, LAYER_BYTES);
  const image = await registry.push(`archy/${lab.prefix}-${name}:1`, local);
  await forgetImage(local);
  pushed.push(image);
  return image;
}

/** hello-web under a variant name, its web container on `image`. */
async function appOn(variant: string, image: string, version = "1.0.0"): Promise<TestApp> {
  const app = await lab.app("hello-web", { variant, version });
  await lab.editManifest(app, (doc) => (doc.getIn(["containers", "web"]) as YAMLMap).set("image", image));
  return app;
}

/** Stores the registry's credentials (the right ones unless `password` says otherwise) for `host`. */
async function login(host = registry.host, password = registry.password): Promise<void> {
  await driver.call("registry-login", { host, username: registry.username, password });
}

/** Uninstalls (purging) the test's app, so that the next test installs it anew. */
async function removeApp(app: TestApp): Promise<void> {
  if (!(await driver.app(app.id))) return;
  await driver.call("uninstall", { app: app.id, purge: true });
  await driver.waitPhase(app.id, "removed", 120_000);
}

async function installFails(app: TestApp): Promise<OperationRecord> {
  const { operationId } = await driver.call<{ operationId: string }>("install", { path: app.dir });
  const record = await driver.operationDone(operationId, 180_000);
  assert.equal(record.operation?.state, "failed", JSON.stringify(record.logs));
  const listed = await driver.app(app.id);
  assert.deepEqual(listed?.containers ?? [], [], "nothing of the app was created");
  await removeApp(app);
  return record;
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The bytes a pull of `image` downloads: its config and layers as the registry stores its manifest. */
function registryBytes(image: PushedImage): number {
  const manifest = JSON.parse(readFileSync(registry.blobFile(image.digest), "utf8")) as {
    config: { size: number };
    layers: Array<{ size: number }>;
  };
  return manifest.layers.reduce((sum, layer) => sum + layer.size, manifest.config.size);
}

const events = (type: string, operationId: string) =>
  driver.messages
    .map((m: Message) => m.event as (Record<string, unknown> & { type: string }) | undefined)
    .filter((e) => e?.type === type && e.operationId === operationId) as Array<Record<string, unknown>>;

describe("image pulls from a registry with TLS and auth", { concurrency: false }, () => {
  before(async () => {
    lab = await Lab.create();
    registry = await startRegistry();
    driver = await lab.driver({ pullBaseMs: 200, backoffBaseMs: 60_000 });
  });

  after(async () => {
    await driver?.exit();
    await lab?.close();
    for (const image of pushed) await forgetImage(image.pinned);
    await registry?.stop();
  });

  test("wrong credentials: the install fails at once, naming the image and the fix; nothing is created", async () => {
    const image = await newImage("denied");
    await login(registry.host, "not-the-password-of-this-registry");
    const record = await installFails(await appOn("denied", image.pinned));
    assert.match(
      record.operation?.error ?? "",
      new RegExp(
        `image ${literal(image.pinned)} could not be pulled: .*unauthorized.*archy registry login ${registry.host}`,
      ),
    );
    assert.ok(!record.logs.some((l) => l.message.includes("trying again")), "a refusal is not retried");
  });

  test("an image that does not fit in Podman's storage: the install is refused before any byte is pulled, naming both figures; nothing is created", async () => {
    const image = await newImage("full");
    await login();
    await driver.exit();
    // The registry's real figures against a disk that says it has one layer's bytes free.
    driver = await lab.driver({ pullBaseMs: 200, backoffBaseMs: 60_000, storageFreeBytes: LAYER_BYTES });
    try {
      const record = await installFails(await appOn("full", image.pinned));
      assert.match(
        record.operation?.error ?? "",
        new RegExp(
          `^not enough free space for the images: they download ${literal(formatBytes(registryBytes(image)))}, about ${literal(formatBytes(3 * registryBytes(image)))} in Podman's storage once unpacked \\(3× what they download\\), and /.+ has 3\\.0 MiB free; free at least .+ there \\(\`podman image prune\`.*then retry$`,
        ),
      );
      assert.ok(!record.logs.some((l) => l.message.startsWith("pulling ")), "no pull was started");
      await assert.rejects(
        lab.podman(["image", "exists", image.pinned]),
        "nothing of the image is on the node",
      );
    } finally {
      await driver.exit();
      driver = await lab.driver({ pullBaseMs: 200, backoffBaseMs: 60_000 });
    }
  });

  test("install pulls the image pinned by digest, with per-layer bytes, rate and time left in events and log, and runs it", async () => {
    const pushedImage = await newImage("ok");
    // Slow enough for Podman's once-a-second progress to see the layer's bytes go by.
    const slow = await registry.throttled(LAYER_BYTES / 3);
    after(() => slow.close());
    const image = { ...pushedImage, pinned: pushedImage.pinned.replace(registry.host, slow.host) };
    pushed.push(image);
    await login(slow.host);
    const app = await appOn("ok", image.pinned);
    const { operationId } = await driver.call<{ operationId: string }>("install", { path: app.dir });
    const record = await driver.operationDone(operationId, 180_000);
    assert.equal(record.operation?.state, "succeeded", JSON.stringify(record.logs));
    const [layer] = registry.layers(image).slice(-1); // the unique layer, on top
    const short = (layer as string).replace(/^sha256:/, "").slice(0, 12);
    const progress = events("pull", operationId).filter((e) => e.layer === short);
    const downloading = progress.filter((e) => e.status === "downloading");
    assert.ok(
      downloading.length > 0,
      `progress of layer ${short}: ${JSON.stringify(events("pull", operationId))}`,
    );
    const total = downloading.at(-1)?.total as number;
    assert.ok(total >= LAYER_BYTES, `the layer's size is known: ${total}`);
    assert.ok(
      downloading.every(
        (e, i) => i === 0 || (e.current as number) >= (downloading[i - 1]?.current as number),
      ),
      "bytes only grow",
    );
    assert.ok(
      progress.some((e) => e.status === "done"),
      "the layer is reported done",
    );
    const rated = downloading.filter((e) => (e.bytesPerSecond as number) > 0);
    assert.ok(
      rated.length > 0,
      `the layer's rate is known after its first report: ${JSON.stringify(downloading)}`,
    );
    assert.ok(
      rated.every((e) => typeof e.secondsLeft === "number" && e.secondsLeft >= 0),
      "with the time its bytes still take",
    );
    const lines = record.logs.map((l) => l.message);
    assert.ok(
      lines.some((l) => l.startsWith(`the image downloads ${formatBytes(registryBytes(image))}; `)),
      `the registry's size of the image, before the pull: ${lines.join("\n")}`,
    );
    assert.ok(
      lines.some(
        (l) =>
          l.startsWith(`${image.pinned} layer ${short}: `) && / at [\d.]+ [KMG]?i?B\/s, .+ left$/.test(l),
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l === `pulling ${image.pinned} from ${slow.host} as ${registry.username}`),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.startsWith(`${image.pinned} layer ${short}: `) && /\(\d+%\)$/.test(l)),
      lines.join("\n"),
    );
    assert.ok(lines.includes(`pulled ${image.pinned}`), lines.join("\n"));
    assert.ok(
      lines.every((l) => !l.includes(registry.password)),
      "the registry password is in no log line",
    );
    await driver.waitPhase(app.id, "running", 60_000);
    await removeApp(app);
  });

  test("the daemon SIGKILLed in the middle of a pull: nothing of the app is left half made, and when it comes back the install completes", async (t) => {
    const pushedImage = await newImage("killed");
    // About six seconds for the layer: the daemon dies with most of it still to come.
    const slow = await registry.throttled(LAYER_BYTES / 6);
    after(() => slow.close());
    const image = { ...pushedImage, pinned: pushedImage.pinned.replace(registry.host, slow.host) };
    pushed.push(image);
    await login(slow.host);
    const app = await appOn("killed", image.pinned);
    const { operationId } = await driver.call<{ operationId: string }>("install", { path: app.dir });
    await driver.waitFor(
      (m) => {
        const event = m.event as Record<string, unknown> | undefined;
        return event?.type === "pull" && event.status === "downloading" && (event.current as number) > 0;
      },
      120_000,
      "a pull event with the layer's first bytes",
    );
    await driver.kill();
    assert.deepEqual(
      (await lab.podman(["ps", "-a", "--filter", `label=${LABELS.app}=${app.id}`, "-q"])).trim(),
      "",
      "no container of the app",
    );
    driver = await lab.driver({ pullBaseMs: 200, backoffBaseMs: 60_000 });
    const record = await driver.operationDone(operationId, 180_000);
    assert.equal(record.operation?.state, "succeeded", JSON.stringify(record.logs));
    await driver.waitPhase(app.id, "running", 60_000);
    await lab.podman(["image", "exists", image.pinned]);
    // Whether Podman finished the pull on its own after its client died, or the new daemon pulled again.
    t.diagnostic(
      `pulls started: ${record.logs.filter((l) => l.message.startsWith(`pulling ${image.pinned}`)).length}`,
    );
    await removeApp(app);
  });

  test("a digest the registry does not have: the install fails, naming the image; nothing is created", async () => {
    const image = await newImage("unknown");
    await login();
    const absent = `${image.reference}@sha256:${randomBytes(32).toString("hex")}`;
    const record = await installFails(await appOn("unknown", absent));
    assert.match(
      record.operation?.error ?? "",
      /could not be pulled: .*manifest unknown.*has no such image or digest/,
    );
  });

  test("the registry serves other bytes under the digest: the install fails, nothing of the image is kept", async () => {
    const image = await newImage("tampered");
    const [layer] = registry.layers(image).slice(-1);
    const file = registry.blobFile(layer as string);
    const bytes = readFileSync(file);
    writeFileSync(file, randomBytes(bytes.length));
    await login();
    const record = await installFails(await appOn("tampered", image.pinned));
    assert.match(record.operation?.error ?? "", /could not be pulled: .*does not match the image's digest/);
    assert.ok(!record.logs.some((l) => l.message.includes("trying again")), "other bytes are not retried");
    await assert.rejects(lab.podman(["image", "exists", image.pinned]), "no image under that digest");
  });

  test("an update whose image cannot be pulled (registry down) is refused after retries; the old version runs on", async () => {
    const image = await newImage("down");
    await login();
    const v1 = await lab.app("hello-web", { variant: "down1", version: "1.0.0" });
    const accepted = await driver.call<{ operationId: string }>("install", { path: v1.dir });
    assert.equal((await driver.operationDone(accepted.operationId, 120_000)).operation?.state, "succeeded");
    await driver.waitPhase(v1.id, "running", 60_000);
    const before = (await driver.app(v1.id))?.containers;
    await registry.halt();
    try {
      const v2 = await lab.app("hello-web", { variant: "down2", version: "2.0.0", ports: v1.ports });
      await lab.editManifest(v2, (doc) =>
        (doc.getIn(["containers", "web"]) as YAMLMap).set("image", image.pinned),
      );
      const update = await driver.call<{ operationId: string }>("update", { path: v2.dir });
      const record = await driver.operationDone(update.operationId, 180_000);
      assert.equal(record.operation?.state, "failed");
      assert.match(
        record.operation?.error ?? "",
        /refused: image .* could not be pulled \(3 tries\): .*could not be reached.*1\.0\.0 left as it was/,
      );
      assert.equal(
        record.logs.filter((l) => l.message.includes("trying again")).length,
        2,
        "two retries with backoff",
      );
      const now = await driver.app(v1.id);
      assert.equal(now?.phase, "running");
      assert.deepEqual(
        now?.containers.map((c) => [c.containerId, c.state]),
        before?.map((c) => [c.containerId, c.state]),
        "the same container, still running",
      );
    } finally {
      await registry.start();
      await removeApp(v1);
    }
  });
});
