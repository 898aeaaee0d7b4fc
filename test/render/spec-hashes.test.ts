/**
 * An upgrade never recreates containers by surprise. A daemon recreates every container whose spec
 * hash differs from its manifest's render (planner.ts): a change to a renderer, a default or the
 * canonical form that alters the hash of an *unchanged* manifest recreates every such container on
 * every node at its next daemon start. So the hashes of the sample apps and the fixtures, under
 * every naming scheme (NAMING_SCHEMES: an app keeps the one it was installed with), are pinned in spec-hashes.json with the render generation they belong to.
 *
 * A change that alters one is refused here unless it is deliberate: rewrite them with
 *   UPDATE_SPEC_HASHES=1 node_modules/.bin/node --test test/render/spec-hashes.test.ts
 * which also moves the file to the next render generation, then write that generation's release
 * note in docs/operations.md ("Upgrades that recreate containers"): which containers, why, and that
 * their data is kept. Unlike the golden renders, the hashes cannot be rewritten without it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { before, describe, test } from "node:test";
import { loadManifest } from "../../src/manifest/load.ts";
import { CURRENT_NAMING, NAMING_SCHEMES } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import type { RenderContext } from "../../src/render/model.ts";
import { podmanPlan } from "../../src/render/podman-spec.ts";
import { GOLDEN_DATA_ROOT, loadSamples } from "../support/samples.ts";

const HASHES_FILE = resolve(import.meta.dirname, "spec-hashes.json");
const OPERATIONS_DOC = resolve(import.meta.dirname, "../../docs/operations.md");
const FIXTURES = resolve(import.meta.dirname, "../fixtures");
const UPDATE = process.env.UPDATE_SPEC_HASHES === "1";

type Pinned = { renderGeneration: number; hashes: Record<string, string> };

/** The apps whose hashes are pinned: the samples, and the third-party and stranger apps. */
async function pinnedApps(): Promise<Record<string, Manifest>> {
  const apps: Record<string, Manifest> = { ...(await loadSamples()) };
  const dirs = ["third-party-apps", "stranger-apps"].flatMap((group) =>
    readdirSync(join(FIXTURES, group)).map((name) => join(FIXTURES, group, name)),
  );
  for (const path of dirs) {
    const loaded = await loadManifest(path);
    assert.ok(loaded.ok, `${path} validates`);
    apps[loaded.manifest.id] = loaded.manifest;
  }
  return apps;
}

/** An app network's subnet, from its id alone: pinned hashes do not move when an app is added here. */
function subnetOf(appId: string): string {
  const byte = createHash("sha256").update(appId).digest()[0] as number;
  return `10.${90 + (byte >> 6)}.${byte}.0/24`;
}

/** `scheme/app/container` → spec hash, for every container of every app under every naming scheme. */
function specHashes(apps: Record<string, Manifest>): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const scheme of NAMING_SCHEMES)
    for (const id of Object.keys(apps).sort()) {
      const manifest = apps[id] as Manifest;
      const related = [id, ...manifest.dependencies.map((d) => d.id)];
      const ctx: RenderContext = {
        dataRoot: GOLDEN_DATA_ROOT,
        dependencies: Object.fromEntries(manifest.dependencies.map((d) => [d.id, apps[d.id] as Manifest])),
        subnets: Object.fromEntries(related.map((app) => [app, subnetOf(app)])),
        naming: Object.fromEntries(related.map((app) => [app, scheme])),
      };
      for (const c of podmanPlan(manifest, ctx).containers) hashes[`${scheme}/${id}/${c.key}`] = c.hash;
    }
  return hashes;
}

function changes(pinned: Record<string, string>, now: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(pinned), ...Object.keys(now)])].sort();
  return keys.flatMap((key) =>
    pinned[key] === now[key]
      ? []
      : [`${key}: ${pinned[key]?.slice(0, 12) ?? "(none)"} → ${now[key]?.slice(0, 12) ?? "(none)"}`],
  );
}

let apps: Record<string, Manifest>;
before(async () => {
  apps = await pinnedApps();
});

describe("spec hashes of unchanged manifests", () => {
  test("every pinned app renders, under every naming scheme an installed app can have (the list is not silently empty)", () => {
    assert.ok(
      NAMING_SCHEMES.includes(CURRENT_NAMING),
      "new apps are installed with one of the schemes pinned here",
    );
    const hashes = specHashes(apps);
    for (const id of Object.keys(apps))
      for (const scheme of NAMING_SCHEMES)
        assert.ok(
          Object.keys(hashes).some((key) => key.startsWith(`${scheme}/${id}/`)),
          `${id} under scheme ${scheme}`,
        );
    assert.ok(Object.keys(hashes).length >= 30, `only ${Object.keys(hashes).length} containers`);
  });

  test("invariant: an upgrade recreates no container of an unchanged manifest (the pinned spec hashes hold, or the change is a new render generation)", () => {
    const pinned = JSON.parse(readFileSync(HASHES_FILE, "utf8")) as Pinned;
    const now = specHashes(apps);
    const changed = changes(pinned.hashes, now);
    if (UPDATE && changed.length > 0) {
      const next: Pinned = { renderGeneration: pinned.renderGeneration + 1, hashes: now };
      writeFileSync(HASHES_FILE, `${JSON.stringify(next, null, 2)}\n`);
      assert.fail(
        `render generation ${next.renderGeneration}: ${changed.length} spec hashes rewritten. Write its release note in docs/operations.md ("Upgrades that recreate containers"), then run this test again without UPDATE_SPEC_HASHES`,
      );
    }
    assert.deepEqual(
      changed,
      [],
      "these containers would be recreated on every node at its next daemon start although their manifests did not change. " +
        "Keep the render as it was, or make it deliberate: UPDATE_SPEC_HASHES=1 moves to the next render generation, " +
        "whose release note docs/operations.md must carry (see the top of this file)",
    );
  });

  test("the current render generation has its release note, saying what the upgrade recreates", () => {
    const { renderGeneration } = JSON.parse(readFileSync(HASHES_FILE, "utf8")) as Pinned;
    const doc = readFileSync(OPERATIONS_DOC, "utf8");
    const section = doc.slice(doc.indexOf("### Upgrades that recreate containers"));
    assert.ok(section.length < doc.length, "docs/operations.md has the section");
    assert.match(
      section,
      new RegExp(`^- \\*\\*Render generation ${renderGeneration}\\b`, "m"),
      `docs/operations.md names render generation ${renderGeneration}`,
    );
  });
});
