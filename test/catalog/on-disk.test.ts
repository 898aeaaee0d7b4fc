/**
 * Verified means verified at use: what a node keeps on its own disk of a catalog — the app files
 * hooks copy from, the saved last good catalog — is checked against the signed metadata each time it
 * is used, over a catalog built by the publisher's tools and served over real HTTP on loopback. A
 * change on disk is refused with a clear reason (never installed), and downloading the catalog again
 * repairs it.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { Catalogs } from "../../src/catalog/node/catalogs.ts";
import { readAppTree } from "../../src/manifest/app-files.ts";
import { type Lab, lab, manifestText, type StaticServer, serve, served } from "./support.ts";

let env: Lab;
let server: StaticServer;

afterEach(async () => {
  await server?.close();
  env?.close();
});

const ALPHA = { id: "alpha", source: "catalog:official", version: "1.0.0" };
const SEED = "seed file of alpha\n";

/** A daemon's catalogs (one source, no periodic refresh) that refreshed alpha 1.0.0, with files to copy. */
async function node(): Promise<{ catalogs: Catalogs; warnings: string[] }> {
  env = await lab();
  await env.release(
    env.app("alpha", "1.0.0", { "files/seed.txt": SEED, "files/www/index.html": "<h1>a</h1>\n" }),
  );
  server = await serve(env.out);
  const warnings: string[] = [];
  const catalogs = new Catalogs({
    sources: [{ name: "official", url: server.url, root: join(env.out, "metadata", "1.root.json") }],
    stateDir: join(env.dir, "node"),
    refreshMs: 3_600_000,
    log: { info: () => {}, warn: (message) => warnings.push(message) },
  });
  const [status] = await catalogs.refresh();
  assert.equal(status?.state, "ok", JSON.stringify(status?.error));
  return { catalogs, warnings };
}

/** What the hook's copy of `from` gets from the check: undefined when it may be copied. */
async function checkCopy(catalogs: Catalogs, from: string): Promise<string | undefined> {
  const pkg = catalogs.packageOf(ALPHA);
  assert.ok(pkg, "the catalog offers alpha 1.0.0");
  return pkg.verifyCopy(from, await readAppTree(pkg.dir, from));
}

const idle = (catalogs: Catalogs) => Promise.all(catalogs.sources.map((s) => s.idle()));

describe("the node's copy of an app's files is verified at every use", () => {
  test("intact files pass, whether copied one by one or as a directory", async () => {
    const { catalogs } = await node();
    assert.equal(await checkCopy(catalogs, "files/seed.txt"), undefined);
    assert.equal(await checkCopy(catalogs, "files"), undefined);
    assert.equal(await checkCopy(catalogs, "files/www"), undefined);
  });

  for (const [change, edit, reason] of [
    [
      "a hook file changed on disk (same length)",
      (path: string) => writeFileSync(path, SEED.toUpperCase()),
      /files\/seed\.txt does not match its signed length and hashes \(sha256 \w+ where \w+ is signed\)/,
    ],
    [
      "a hook file longer than signed",
      (path: string) => appendFileSync(path, "echo pwned\n"),
      /files\/seed\.txt does not match its signed length and hashes \(\d+ bytes where 19 are signed\)/,
    ],
    [
      "a file added beside the signed ones",
      (path: string) => writeFileSync(join(path, "..", "extra.sh"), "echo pwned\n"),
      /files\/extra\.sh is not one of the app's signed files/,
    ],
  ] as const)
    test(`${change}: the copy is refused with the reason, and the re-fetch it starts repairs it`, async () => {
      const { catalogs, warnings } = await node();
      const dir = catalogs.packageOf(ALPHA)?.dir as string;
      edit(join(dir, "files", "seed.txt"));
      const refused = await checkCopy(catalogs, "files");
      assert.match(refused ?? "", reason);
      assert.match(
        refused ?? "",
        /^the node's copy of alpha 1\.0\.0 \(catalog official\) is not what the catalog signed: .*: refused; the catalog is being downloaded again, retry once it is \(archy retry alpha\)$/,
      );
      assert.equal(warnings.length, 1, "the daemon's log says so");
      await idle(catalogs);
      assert.equal(await checkCopy(catalogs, "files"), undefined, "repaired by the refresh");
      assert.equal(readFileSync(join(dir, "files", "seed.txt"), "utf8"), SEED);
      assert.equal(existsSync(join(dir, "files", "extra.sh")), false, "nothing unsigned is left");
      assert.equal(catalogs.statuses()[0]?.state, "ok");
    });
});

describe("the saved last good catalog is verified when a node loads it", () => {
  /** A node that refreshed alpha 1.0.0, and the same node restarted (its state directory kept). */
  async function refreshed() {
    env = await lab();
    await env.release(env.app("alpha", "1.0.0"));
    server = await serve(env.out);
    const stateDir = join(env.dir, "node");
    const first = env.source(server.url, stateDir);
    assert.equal((await first.refresh()).state, "ok");
    const saved = join(stateDir, "official", "last-good.json");
    return { saved, restart: () => env.source(server.url, stateDir) };
  }

  test("an intact saved catalog is served at once after a restart", async () => {
    const { restart } = await refreshed();
    const again = restart();
    await again.load();
    assert.deepEqual(served(again), ["alpha@1.0.0"]);
    assert.equal(again.listing?.apps[0]?.text, manifestText("alpha", "1.0.0"));
    assert.equal(again.status.error, null);
  });

  for (const [change, edit, reason] of [
    [
      "its app's manifest changed (another image)",
      (json: SavedJson) => {
        const app = json.apps[0] as { text: string };
        app.text = app.text.replace("localhost/archy-test/busybox:1", "docker.io/evil/image:1");
      },
      /the manifest of alpha 1\.0\.0: \d+ bytes where \d+ are signed/,
    ],
    [
      "an app added that no role signs",
      (json: SavedJson) => {
        json.apps.push({ id: "beta", version: "1.0.0", text: manifestText("beta", "1.0.0") });
      },
      /it lists beta 1\.0\.0, which its metadata does not sign/,
    ],
    [
      "its targets metadata edited (a forged length for the manifest)",
      (json: SavedJson) => {
        const targets = JSON.parse(json.metadata.targets as string);
        const forged = manifestText("alpha", "1.0.0", "Alpha, forged");
        targets.signed.targets["apps/alpha/1.0.0/manifest.yml"].length = forged.length;
        json.metadata.targets = JSON.stringify(targets);
        (json.apps[0] as { text: string }).text = forged;
      },
      /Expected (length|hash)/,
    ],
    [
      "its root changed (not byte for byte the root the node trusts)",
      (json: SavedJson) => {
        json.metadata.root = `${json.metadata.root}\n`;
      },
      /its root is not the one the node trusts now/,
    ],
  ] as const)
    test(`${change}: it is not served, the status says why, and a refresh serves the signed catalog`, async () => {
      const { saved, restart } = await refreshed();
      const json = JSON.parse(readFileSync(saved, "utf8")) as SavedJson;
      edit(json);
      writeFileSync(saved, JSON.stringify(json));
      const again = restart();
      await again.load();
      assert.deepEqual(served(again), [], "nothing of it is served");
      assert.equal(again.status.apps, 0);
      assert.equal(again.status.state, "failing");
      assert.equal(again.status.error?.kind, "tampered");
      assert.match(
        again.status.error?.message ?? "",
        /^the node's saved catalog .*official\/last-good\.json does not match the signed metadata it was saved with \(changed on disk, or damaged\): /,
      );
      assert.match(again.status.error?.message ?? "", reason);
      assert.match(again.status.error?.fix ?? "", /downloads the catalog again/);
      assert.equal((await again.refresh()).state, "ok");
      assert.deepEqual(served(again), ["alpha@1.0.0"]);
      assert.equal(again.listing?.apps[0]?.text, manifestText("alpha", "1.0.0"), "the signed text");
      const repaired = restart();
      await repaired.load();
      assert.deepEqual(served(repaired), ["alpha@1.0.0"], "the saved copy is good again");
    });

  test("a refresh that failed on a tampered server file keeps the last good catalog across a restart", async () => {
    const { restart } = await refreshed();
    await env.release(env.app("alpha", "1.1.0"));
    const node = restart();
    await node.load();
    // The server's new manifest is changed after signing: the refresh updates the client's
    // metadata, then refuses the file.
    const dir = join(env.out, "targets", "apps", "alpha", "1.1.0");
    const file = readdirSync(dir).find((n) => n.endsWith(".manifest.yml")) as string;
    writeFileSync(join(dir, file), readFileSync(join(dir, file), "utf8").replace("sleep", "sleeq"));
    const failed = await node.refresh();
    assert.equal(failed.error?.kind, "tampered", failed.error?.message);
    const again = restart();
    await again.load();
    assert.deepEqual(
      served(again),
      ["alpha@1.0.0"],
      "the last good catalog, verified by the metadata saved with it",
    );
    assert.equal(again.status.error, null);
  });
});

type SavedJson = {
  apps: Array<{ id: string; version: string; text: string }>;
  metadata: Record<string, string>;
};
