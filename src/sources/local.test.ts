import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MINIMAL } from "../../test/support/manifest-text.ts";
import { loadManifest } from "../manifest/load.ts";
import { loadAppsDir } from "./local.ts";

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
