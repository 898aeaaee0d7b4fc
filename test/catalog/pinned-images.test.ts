/**
 * Publishing refuses images a node would pull by tag (what the registry says the tag is at install
 * time, not what was signed): every registry image of a catalog app is pinned by digest, unless the
 * publisher says `--allow-unpinned` for a development catalog. localhost/ images are never pulled.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { addApps } from "../../src/catalog/publisher.ts";
import { listApps } from "../../src/catalog/repository.ts";
import { loadWorkspace } from "../../src/catalog/workspace.ts";
import { lab } from "./support.ts";

const DIGEST = `sha256:${"4".repeat(64)}`;

describe("catalog add: images pinned by digest", () => {
  test("a signed catalog never carries an image by tag alone: refused, naming the container, nothing added", async () => {
    const env = await lab();
    const app = env.app("alpha", "1.0.0");
    const file = join(app, "manifest.yml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("localhost/archy-test/busybox:1", "registry.example.org/team/web:1"),
    );
    await assert.rejects(
      addApps(env.repo, [app], { now: Date.now() }),
      /containers\.web\.image registry\.example\.org\/team\/web:1 is not pinned by digest: pin it .*--allow-unpinned for development only; nothing was added/,
    );
    assert.deepEqual(listApps((await loadWorkspace(env.repo)).repo), []);

    await addApps(env.repo, [app], { now: Date.now(), allowUnpinned: true });
    assert.deepEqual(
      listApps((await loadWorkspace(env.repo)).repo).map((a) => a.id),
      ["alpha"],
      "a development catalog may",
    );

    const pinned = env.app("beta", "1.0.0");
    const pinnedFile = join(pinned, "manifest.yml");
    writeFileSync(
      pinnedFile,
      readFileSync(pinnedFile, "utf8").replace(
        "localhost/archy-test/busybox:1",
        `registry.example.org/team/web:1@${DIGEST}`,
      ),
    );
    await addApps(env.repo, [pinned], { now: Date.now() });
    assert.deepEqual(
      listApps((await loadWorkspace(env.repo)).repo)
        .map((a) => a.id)
        .sort(),
      ["alpha", "beta"],
    );
  });
});
