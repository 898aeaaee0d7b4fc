/**
 * Catalog sources the operator adds at run time: kept only once verified, kept across a restart
 * (a new Catalogs over the same state directory), removed with everything of them.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Catalogs, SourceChangeRefused } from "../../src/catalog/node/catalogs.ts";
import { lab } from "./support.ts";

const quiet = { info: () => {}, warn: () => {} };

test("an added source survives a restart; a refused one and a removed one leave nothing behind", async () => {
  const published = await lab();
  const other = await lab();
  try {
    await published.release(published.app("cat-one", "1.0.0"));
    await other.release();
    const stateDir = join(published.dir, "node");
    const rootOf = (l: typeof published) => readFileSync(join(l.out, "metadata", "1.root.json"), "utf8");
    const first = new Catalogs({ sources: [], stateDir, refreshMs: 3_600_000, log: quiet });
    await first.start();
    await assert.rejects(
      first.add("community", published.out, rootOf(other)),
      (error) => error instanceof SourceChangeRefused && /was not added/.test(error.message),
    );
    assert.deepEqual(first.statuses(), [], "a catalog that does not verify under the root is not added");
    assert.equal(existsSync(join(stateDir, "community")), false);
    assert.equal((await first.add("community", published.out, rootOf(published))).apps, 1);
    await assert.rejects(first.add("community", published.out, rootOf(published)), /already/);
    await first.stop();

    const restarted = new Catalogs({ sources: [], stateDir, refreshMs: 3_600_000, log: quiet });
    await restarted.start();
    assert.deepEqual(
      restarted.statuses().map((s) => [s.name, s.url, s.apps]),
      [["community", published.out, 1]],
      "the added source and its last good catalog are there after a restart",
    );
    assert.equal(restarted.added("community"), true);
    await restarted.remove("community");
    await restarted.stop();
    const again = new Catalogs({ sources: [], stateDir, refreshMs: 3_600_000, log: quiet });
    await again.start();
    assert.deepEqual(again.statuses(), [], "a removed source stays removed");
    assert.equal(existsSync(join(stateDir, "community")), false);
    assert.equal(existsSync(join(stateDir, "_added-roots", "community.json")), false);
    await again.stop();
  } finally {
    published.close();
    other.close();
  }
});
