import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseManifest } from "../manifest/parse.ts";
import type { SourcedApp } from "../sources/local.ts";
import { mergeSources, updatesOffered } from "./merge.ts";
import type { CatalogApp } from "./node/read.ts";

function manifest(id: string, version: string) {
  const text = `manifest: 1\nid: ${id}\nversion: ${version}\nname: ${id}\ndescription: test\ncontainers:\n  web:\n    image: localhost/x:1\n`;
  const parsed = parseManifest(text, "m.yml");
  assert.ok(parsed.ok);
  return { text, manifest: parsed.manifest };
}
const catalogApp = (id: string, version: string): CatalogApp => ({
  id,
  version,
  role: "targets",
  publisher: "targets",
  dir: `/c/${id}`,
  files: new Map(),
  ...manifest(id, version),
});
const localApp = (id: string, version: string): SourcedApp => ({
  id,
  source: `local:/apps/${id}`,
  dir: `/apps/${id}`,
  ...manifest(id, version),
});

describe("merging catalog sources with local apps", () => {
  test("a catalog app wins over a local manifest of the same id, which is flagged", () => {
    const merged = mergeSources([{ source: "official", apps: [catalogApp("alpha", "1.0.0")] }], {
      apps: [localApp("alpha", "9.0.0"), localApp("beta", "1.0.0")],
      rejected: [],
    });
    assert.deepEqual(
      merged.apps.map((a) => [a.id, a.manifest.version, a.source, a.localOverride ?? null]),
      [
        ["alpha", "1.0.0", "catalog:official", "local:/apps/alpha"],
        ["beta", "1.0.0", "local:/apps/beta", null],
      ],
    );
  });

  test("ids are offered once: the first source in the configured order wins, the other is a conflict", () => {
    const merged = mergeSources(
      [
        { source: "official", apps: [catalogApp("alpha", "1.0.0")] },
        { source: "community", apps: [catalogApp("alpha", "5.0.0"), catalogApp("community.relay", "0.1.0")] },
      ],
      { apps: [], rejected: [] },
    );
    assert.deepEqual(
      merged.apps.map((a) => `${a.id}@${a.manifest.version} ${a.source}`),
      ["alpha@1.0.0 catalog:official", "community.relay@0.1.0 catalog:community"],
    );
    assert.deepEqual(merged.conflicts, [
      { id: "alpha", source: "catalog:community", offeredBy: "catalog:official" },
    ]);
  });

  test("updates offered: only installed apps with a newer offered version", () => {
    const offered = [
      catalogApp("alpha", "1.1.0"),
      catalogApp("beta", "2.0.0"),
      catalogApp("gamma", "1.0.0"),
    ].map((a) => ({ ...a, source: "catalog:official" }));
    const installed = (id: string, version: string) => ({
      id,
      version,
      source: "catalog:official",
      publisher: "targets",
    });
    assert.deepEqual(
      updatesOffered(offered, [
        installed("alpha", "1.0.0"),
        installed("beta", "2.0.0"),
        installed("gamma", "1.2.0"),
        installed("delta", "1.0.0"),
      ]),
      [{ id: "alpha", installed: "1.0.0", offered: "1.1.0", source: "catalog:official", sourceChange: null }],
    );
  });

  test("a packaging revision of the installed version is offered as an update", () => {
    const offered = [catalogApp("alpha", "1.0.0-r2"), catalogApp("beta", "1.9.0-r5")].map((a) => ({
      ...a,
      source: "catalog:official",
    }));
    const installed = (id: string, version: string) => ({
      id,
      version,
      source: "catalog:official",
      publisher: "targets",
    });
    assert.deepEqual(
      updatesOffered(offered, [installed("alpha", "1.0.0"), installed("beta", "2.0.0")]).map(
        (u) => u.offered,
      ),
      ["1.0.0-r2"],
    );
  });

  test("an update from another source or signer says so: it is never a silent switch", () => {
    const offered = [
      { ...catalogApp("alpha", "2.0.0"), source: "catalog:official" },
      { ...catalogApp("beta", "2.0.0"), source: "catalog:official", publisher: "community (1 of keys b2)" },
    ];
    const updates = updatesOffered(offered, [
      { id: "alpha", version: "1.0.0", source: "local:/apps/alpha" },
      { id: "beta", version: "1.0.0", source: "catalog:official", publisher: "community (1 of keys a1)" },
    ]);
    assert.deepEqual(
      updates.map((u) => [u.id, u.sourceChange]),
      [
        ["alpha", "switch its source from local:/apps/alpha to catalog:official (signed by targets)"],
        [
          "beta",
          "change who signs it in catalog:official, from community (1 of keys a1) to community (1 of keys b2)",
        ],
      ],
    );
  });
});
