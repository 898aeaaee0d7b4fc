import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { benchManifest } from "../../bench/daemon-fixture.ts";
import { parseManifest } from "../manifest/parse.ts";
import { platformResources, type Resource, sharedResources } from "../render/resources.ts";
import { Lifecycle } from "./lifecycle.ts";
import { ManifestCache } from "./manifest-cache.ts";
import { type AppNames, InstalledNames, type NameClash, NameIndex } from "./name-clashes.ts";
import { Store } from "./store.ts";

/** The clashes by definition: `app` compared with every other app, one by one. */
function clashesByComparison(app: AppNames, apps: readonly AppNames[]): NameClash[] {
  const platform = platformResources(app.resources);
  return [
    ...(platform.length > 0 ? [{ with: undefined, resources: platform }] : []),
    ...apps
      .filter((other) => other.id !== app.id)
      .map((other) => ({ with: other.id, resources: sharedResources(app.resources, other.resources) }))
      .filter((clash) => clash.resources.length > 0),
  ];
}

describe("name clashes", () => {
  test("the index finds exactly the clashes that comparing an app with every other app finds, in the same order", () => {
    const pool: Resource[] = [
      { kind: "volume", name: "data" },
      { kind: "container", name: "web" },
      { kind: "secret", name: "key" },
      { kind: "network", name: "net" },
      { kind: "unit", name: "archipelago.service" },
      { kind: "volume", name: "web" },
    ];
    // Every app takes a different subset of the pool (bit n: pool[n]), so the pairs share 0 to 6 names.
    const apps: AppNames[] = Array.from({ length: 40 }, (_, n) => ({
      id: `app-${String(n).padStart(2, "0")}`,
      resources: pool.filter((_, bit) => ((n * 11) >> bit) & 1),
    }));
    const index = new NameIndex(apps);
    let compared = 0;
    for (const app of [...apps, { id: "new-app", resources: pool }, { id: "app-07", resources: [] }]) {
      const expected = clashesByComparison(app, apps);
      compared += expected.length;
      assert.deepEqual(index.clashesOf(app), expected, app.id);
    }
    assert.ok(compared > 100, `the sample has clashes to find (${compared})`);
  });

  test("a pass over N converged apps reads the installed apps once, not once per app (an idle daemon's pass is not quadratic)", () => {
    const dir = mkdtempSync(join(tmpdir(), "archy-name-clashes-"));
    const store = new Store(join(dir, "store.db"));
    try {
      const manifests = new ManifestCache(store);
      const lifecycle = new Lifecycle({ store, manifests, wake: () => {} });
      const apps = 30;
      for (let n = 1; n <= apps; n++) {
        const id = `clash-${n}`;
        const text = benchManifest(id, n, false);
        const parsed = parseManifest(text, `${id}/manifest.yml`);
        assert.ok(parsed.ok);
        lifecycle.install({ text, manifest: parsed.manifest, source: `local:/test/${id}` });
      }
      let reads = 0;
      const listAppHeads = store.listAppHeads.bind(store);
      store.listAppHeads = () => {
        reads++;
        return listAppHeads();
      };
      const names = new InstalledNames(store, manifests);
      const rows = store.listApps();
      // As in a pass: each app's observation is confirmed unchanged (in memory, no write) after its check.
      const now = Date.now();
      for (const row of rows) {
        assert.deepEqual(names.clashesOf(row), [], row.id);
        store.touchObservation(row.id, now);
      }
      assert.equal(reads, 1, `the installed apps were read ${reads} times for ${apps} apps`);
      for (const row of rows) {
        assert.equal(manifests.installed(store).length, apps, row.id);
        store.touchObservation(row.id, now);
      }
      assert.equal(reads, 2, "the installed manifests: read once while no table changed");
      // A change the store records is seen at the next question.
      lifecycle.stop("clash-1");
      manifests.installed(store);
      names.clashesOf(rows[0] as (typeof rows)[number]);
      assert.equal(reads, 4, "a write made the next question of each read again");
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
