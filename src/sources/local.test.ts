import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MINIMAL } from "../../test/support/manifest-text.ts";
import { loadManifest } from "../manifest/load.ts";
import { AppsDirListing, loadAppsDir, type SourceListing } from "./local.ts";

const base = realpathSync(mkdtempSync(join(tmpdir(), "archy-sources-")));
after(() => rmSync(base, { recursive: true, force: true }));

/** An apps directory with the apps `ids` (minimal manifests), each `extra` lines added. */
function appsDir(name: string, apps: Record<string, string>): string {
  const dir = join(base, name);
  for (const [id, extra] of Object.entries(apps)) {
    mkdirSync(join(dir, id, "files"), { recursive: true });
    writeFileSync(join(dir, id, "manifest.yml"), `${MINIMAL.replace("id: hello", `id: ${id}`)}${extra}`);
  }
  return dir;
}

describe("one bad app directory never keeps the others from being offered", () => {
  test("an app whose files loop is refused with the reason; the others are offered", {
    timeout: 60_000,
  }, async () => {
    const dir = appsDir("loop", {
      alpha: "",
      looping:
        "hooks:\n  post_install:\n    - copy_from_host: { from: files, container: web, to: /data/files }\n",
      omega: "",
    });
    symlinkSync("..", join(dir, "looping", "files", "up"));
    const listing = await loadAppsDir(dir);
    assert.deepEqual(
      listing.apps.map((a) => a.id),
      ["alpha", "omega"],
    );
    assert.equal(listing.rejected.length, 1);
    assert.match(
      listing.rejected[0]?.issues[0]?.message ?? "",
      /files\/up\/files leads back into a directory that holds it/,
    );
  });

  test("an app whose reading does not finish in time is left out, saying so; the others are offered", async () => {
    const dir = appsDir("slow", { alpha: "", stuck: "", omega: "" });
    let abandoned: AbortSignal | undefined;
    const listing = await loadAppsDir(dir, {
      timeLimitMs: 50,
      // A file system that never answers for one app directory.
      load: (path, displayBase, options) => {
        if (!path.endsWith("/stuck")) return loadManifest(path, displayBase, options);
        abandoned = options?.signal;
        return new Promise(() => {});
      },
    });
    assert.deepEqual(
      listing.apps.map((a) => a.id),
      ["alpha", "omega"],
    );
    assert.equal(listing.rejected[0]?.dir, join(dir, "stuck"));
    assert.match(
      listing.rejected[0]?.issues[0]?.message ?? "",
      /reading the app directory took longer than 0.05 s: it was left out/,
    );
    assert.equal(abandoned?.aborted, true, "what it still reads is told to stop");
  });

  test("an apps directory that cannot be read is one clear refusal, not an exception", async () => {
    const file = join(base, "not-a-directory");
    writeFileSync(file, "");
    const listing = await loadAppsDir(file);
    assert.deepEqual(listing.apps, []);
    assert.match(
      listing.rejected[0]?.issues[0]?.message ?? "",
      /^cannot read the apps directory: a part of the path is not a directory$/,
    );
  });
});

describe("the apps directory as the daemon offers it: listings may be seconds old, installs never act on an old manifest", () => {
  /** A listing on a manual clock that counts its reads of the directory. */
  function listing(dir: string, mtimeSlackMs?: number) {
    let now = 1_000_000;
    const reads: SourceListing[] = [];
    const apps = new AppsDirListing(dir, {
      clock: () => now,
      onRead: (read) => reads.push(read),
      ...(mtimeSlackMs === undefined ? {} : { mtimeSlackMs }),
    });
    return { apps, reads, advance: (ms: number) => (now += ms) };
  }
  /** Longer than the file system's timestamp granularity (the kernel's coarse clock). */
  const tick = () => new Promise((resolve) => setTimeout(resolve, 50));
  const versionOf = (read: SourceListing, id: string) => read.apps.find((a) => a.id === id)?.manifest.version;

  test("a listing is reused for a few seconds, then read again", async () => {
    const dir = appsDir("reuse", { alpha: "" });
    const { apps, reads, advance } = listing(dir);
    await apps.list();
    appsDir("reuse", { beta: "" });
    assert.deepEqual(
      (await apps.list()).apps.map((a) => a.id),
      ["alpha"],
      "within the reuse time, the earlier read",
    );
    advance(3_000);
    assert.deepEqual(
      (await apps.list()).apps.map((a) => a.id),
      ["alpha", "beta"],
    );
    assert.equal(reads.length, 2);
  });

  test("an app dropped in after a listing is current at once for an install", async () => {
    const dir = appsDir("dropped", { alpha: "" });
    const { apps, reads } = listing(dir);
    await apps.list();
    appsDir("dropped", { beta: "" });
    const read = await apps.current("beta");
    assert.ok(read.apps.some((a) => a.id === "beta"));
    assert.equal(reads.length, 2, "the directory was read again");
  });

  test("an unchanged app is taken from the last read (one stat), an edited one is read again", async () => {
    const dir = appsDir("edited", { alpha: "", beta: "" });
    await tick();
    const { apps, reads } = listing(dir, 0);
    await apps.list();
    await tick();
    await apps.current("alpha");
    assert.equal(reads.length, 1, "alpha had not changed: no second read");
    writeFileSync(
      join(dir, "beta", "manifest.yml"),
      MINIMAL.replace("id: hello", "id: beta").replace(/^version: .*$/m, "version: 9.9.9"),
    );
    assert.equal(versionOf(await apps.current("beta"), "beta"), "9.9.9", "the edit is what an install gets");
    assert.equal(reads.length, 2);
  });

  test("a manifest changed just before the read began is read again (coarse file times)", async () => {
    const dir = appsDir("recent", { alpha: "" });
    await tick();
    const { apps, reads } = listing(dir);
    await apps.list();
    await apps.current("alpha");
    assert.equal(reads.length, 2, "changed within the slack of the first read: not trusted");
  });
});
