import assert from "node:assert/strict";
import { test } from "node:test";
import { TEST_IMAGE } from "../host/layout.ts";
import { loadAppsDir } from "../sources/local.ts";
import { SAMPLE_APPS_DIR } from "./gate.ts";
import { imageUses, missingImages, missingImagesMessage } from "./preflight.ts";

test("every container's image, by the app id the operator named", async () => {
  const { apps } = await loadAppsDir(SAMPLE_APPS_DIR);
  const uses = imageUses(new Map(apps.map((a) => [a.id, a.manifest])));
  assert.deepEqual(
    uses.filter((u) => u.app === "notes").map((u) => `${u.container} ${u.image}`),
    ["web", "db", "cache"].map((key) => `${key} ${TEST_IMAGE}`),
  );
  assert.equal(uses.length, 6, "hello-web 1, mini-explorer 1, mini-node 1, notes 3");
});

test("the images not in the store: each asked about once; a check that fails counts as present", async () => {
  const uses = [
    { app: "a.web", container: "web", image: "localhost/ok:1" },
    { app: "a.web", container: "worker", image: "localhost/nope/missing:1" },
    { app: "b.db", container: "db", image: "localhost/nope/missing:1" },
    { app: "c.slow", container: "main", image: "localhost/slow:1" },
  ];
  const asked: string[] = [];
  const missing = await missingImages(uses, async (image) => {
    asked.push(image);
    if (image === "localhost/slow:1") throw new Error("Podman did not answer in time");
    return image === "localhost/ok:1";
  });
  assert.deepEqual(asked, ["localhost/ok:1", "localhost/nope/missing:1", "localhost/slow:1"]);
  assert.deepEqual(
    missing.map((u) => `${u.app}/${u.container}`),
    ["a.web/worker", "b.db/db"],
  );
  assert.deepEqual(await missingImages(uses, async () => true), []);
});

test("the refusal names the image, the apps and containers using it, whose store, and how to fill it", () => {
  const message = missingImagesMessage(
    [
      { app: "acme.broken", container: "web", image: "localhost/nope/missing:1" },
      { app: "acme.other", container: "db", image: "localhost/nope/missing:1" },
      { app: "acme.other", container: "cache", image: TEST_IMAGE },
    ],
    { user: "archy-test", runAs: "runuser -u archy-test -- env XDG_RUNTIME_DIR=/run/user/1001" },
  );
  const lines = message.split("\n");
  assert.match(lines[0] ?? "", /^refusing to gate: 2 images are not in archy-test's Podman image store/);
  assert.match(lines[0] ?? "", /never pulls/);
  assert.equal(
    lines[1],
    "  localhost/nope/missing:1: used by acme.broken (container web), acme.other (container db)",
  );
  assert.equal(lines[2], `  ${TEST_IMAGE}: used by acme.other (container cache)`);
  assert.match(message, /as archy-test: `podman load -i IMAGE\.tar`/);
  assert.match(
    message,
    /From here: `runuser -u archy-test -- env XDG_RUNTIME_DIR=\/run\/user\/1001 podman load -i IMAGE\.tar`/,
  );
  assert.match(message, /`scripts\/build-test-images --user archy-test` builds it/);
  assert.match(message, /leave acme\.broken, acme\.other out with --apps\. Nothing was installed\.$/);

  const one = missingImagesMessage([{ app: "x", container: "main", image: "localhost/nope/missing:1" }], {
    user: "the daemon's user",
    store: "the image store of the Podman at /run/user/1000/podman/podman.sock",
  });
  assert.match(
    one,
    /^refusing to gate: an image is not in the image store of the Podman at \/run\/user\/1000/,
  );
  assert.doesNotMatch(one, /From here|build-test-images/);
});
