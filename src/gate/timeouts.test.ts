import assert from "node:assert/strict";
import { resolve } from "node:path";
import { before, describe, test } from "node:test";
import { loadManifest } from "../manifest/load.ts";
import type { Manifest } from "../manifest/schema.ts";
import { STEPS } from "./matrix.ts";
import { MARGINS, readyMs, stepTimeouts, stopMs } from "./timeouts.ts";

const APPS = resolve(import.meta.dirname, "../../apps");

async function sample(id: string): Promise<Manifest> {
  const loaded = await loadManifest(resolve(APPS, id));
  assert.ok(loaded.ok, `${id} loads`);
  return loaded.manifest;
}

describe("step time limits derived from the manifest", () => {
  let hello: Manifest;
  let notes: Manifest;
  let node: Manifest;
  let explorer: Manifest;
  before(async () => {
    [hello, notes, node, explorer] = (await Promise.all(
      ["hello-web", "notes", "mini-node", "mini-explorer"].map(sample),
    )) as [Manifest, Manifest, Manifest, Manifest];
  });

  test("ready: start period plus retries+1 probes (interval + timeout), container after container", () => {
    // hello-web: start_period 5s, interval 10s, timeout 3s, retries 3.
    assert.equal(readyMs(hello), 5_000 + 4 * (10_000 + 3_000));
    // notes: web (10s, 5s, 2s, 5) + db (5s, 5s, 2s, 5) + cache (5s, 5s, 2s, 5).
    assert.equal(readyMs(notes), 10_000 + 6 * 7_000 + 2 * (5_000 + 6 * 7_000));
  });

  test("stop: the stop timeouts of every container, one after another", () => {
    assert.equal(stopMs(hello), 15_000);
    assert.equal(stopMs(notes), 15_000);
    assert.equal(stopMs(node), 30_000);
  });

  test("every step has a limit; each follows from what the manifest declares", () => {
    const limits = stepTimeouts(hello);
    assert.deepEqual(Object.keys(limits).sort(), [...STEPS].sort());
    assert.equal(limits.stop, MARGINS.operationMs + 15_000);
    // post_install: a copy (no time limit of its own) and an exec of 30 s.
    assert.equal(limits.install, MARGINS.createMs + MARGINS.operationMs + readyMs(hello) + 30_000);
    assert.equal(limits.restart, MARGINS.operationMs + 15_000 + readyMs(hello));
    assert.equal(limits.reinstall, 15_000 + limits.install);
    assert.equal(limits["install-again"], limits.install);
    assert.ok(limits["daemon-restart"] > MARGINS.daemonBootMs);
    assert.ok(limits.reboot > MARGINS.nodeBootMs);
  });

  test("an app waits for its dependencies: their readiness counts in its install", () => {
    const alone = stepTimeouts(explorer);
    const withNode = stepTimeouts(explorer, [node]);
    assert.equal(withNode.install - alone.install, readyMs(node));
    // pre_uninstall exec: 10 s.
    assert.equal(alone.uninstall, MARGINS.operationMs + 10_000 + 10_000);
  });

  test("the scale multiplies every limit; a nonsense scale is 1", () => {
    const one = stepTimeouts(notes);
    const two = stepTimeouts(notes, [], 2);
    for (const step of STEPS) assert.equal(two[step], one[step] * 2, step);
    assert.deepEqual(stepTimeouts(notes, [], Number.NaN), one);
    assert.deepEqual(stepTimeouts(notes, [], -3), one);
  });
});
