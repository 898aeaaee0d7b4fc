/**
 * The whole path, as a publisher and an operator would take it: a catalog built with the `archy
 * catalog` command line, served by a static HTTP server on loopback, a daemon configured with it as a
 * source. The daemon offers the catalog's app (over a local manifest of the same id, flagged), records
 * its install (Podman never answers here: the intent is what counts), sees the next published version
 * offered as an update, and keeps offering it when the server is then tampered with.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ok, startDaemon } from "../api/support.ts";
import { manifestText, serve } from "./support.ts";

const archy = fileURLToPath(new URL("../../bin/archy", import.meta.url));

function cli(...args: string[]): string {
  const run = spawnSync(archy, args, {
    encoding: "utf8",
    env: { ...process.env, ARCHY_CATALOG_PASSPHRASE: "" },
  });
  assert.equal(run.status, 0, `archy ${args.join(" ")}\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

function appDir(base: string, id: string, version: string): string {
  const dir = join(base, "apps", `${id}-${version}`);
  mkdirSync(join(dir, "files"), { recursive: true });
  writeFileSync(join(dir, "manifest.yml"), manifestText(id, version));
  writeFileSync(join(dir, "files", "index.html"), `<h1>${id} ${version}</h1>\n`);
  return dir;
}

type Available = {
  id: string;
  version: string;
  source: string;
  localOverride: string | null;
  updateAvailable: boolean;
};

test("CLI-built catalog over HTTP: the daemon offers its app, then its update, and keeps it when tampered", async () => {
  const base = mkdtempSync(join(tmpdir(), "archy-catalog-e2e-"));
  const repo = join(base, "repo");
  const out = join(base, "out");
  const server = await serve(out);
  try {
    const init = cli("catalog", "init", repo, "--keys", "root=2", "--threshold", "root=2");
    assert.match(init, /created the catalog/);
    for (const file of readdirSync(join(repo, "keys")))
      assert.equal(statSync(join(repo, "keys", file)).mode & 0o777, 0o600, `${file} is 0600`);
    assert.doesNotMatch(init, /PRIVATE KEY/, "no private key is printed");
    cli("catalog", "add", repo, appDir(base, "alpha", "1.0.0"));
    cli("catalog", "sign", repo);
    cli("catalog", "publish", repo, out);

    const daemon = await startDaemon({
      apps: { alpha: manifestText("alpha", "0.9.0", "Alpha, local") },
      catalogs: [{ name: "official", url: server.url, root: join(out, "metadata", "1.root.json") }],
    });
    try {
      const cliCaller = { bearer: readFileSync(daemon.tokenFile, "utf8").trim() };
      const [refreshed] = (await ok(daemon.port, "catalog.refresh", {}, cliCaller)) as Array<{
        state: string;
      }>;
      assert.equal(refreshed?.state, "ok");
      let available = (await ok(daemon.port, "package.available", {}, cliCaller)) as Available[];
      const alpha = available.find((a) => a.id === "alpha");
      assert.equal(alpha?.version, "1.0.0", "the catalog's version, not the local 0.9.0");
      assert.equal(alpha?.source, "catalog:official");
      assert.match(alpha?.localOverride ?? "", /^local:.*alpha$/, "the local manifest set aside is flagged");

      await ok(daemon.port, "package.install", { id: "alpha" }, cliCaller);
      assert.equal(daemon.orchestrator.store.getApp("alpha")?.source, "catalog:official");

      // The publisher releases 1.1.0; the node sees it offered as an update.
      cli("catalog", "add", repo, appDir(base, "alpha", "1.1.0"));
      cli("catalog", "sign", repo);
      cli("catalog", "publish", repo, out);
      await ok(daemon.port, "catalog.refresh", { name: "official" }, cliCaller);
      available = (await ok(daemon.port, "package.available", {}, cliCaller)) as Available[];
      assert.equal(available.find((a) => a.id === "alpha")?.updateAvailable, true);
      const listed = (await ok(daemon.port, "catalog.list", {}, cliCaller)) as {
        updates: Array<{ id: string; installed: string; offered: string }>;
      };
      assert.deepEqual(
        listed.updates.map((u) => `${u.id} ${u.installed} -> ${u.offered}`),
        ["alpha 1.0.0 -> 1.1.0"],
      );

      // Someone changes the published timestamp: the refresh fails with the reason, 1.1.0 stays.
      const timestamp = join(out, "metadata", "timestamp.json");
      writeFileSync(timestamp, readFileSync(timestamp, "utf8").replace(/"version": (\d+)/, '"version": 99'));
      const [failed] = (await ok(daemon.port, "catalog.refresh", {}, cliCaller)) as Array<{
        state: string;
        error: { kind: string };
      }>;
      assert.equal(failed?.state, "failing");
      assert.equal(
        failed?.error.kind,
        "below-threshold",
        "an altered timestamp no longer carries a valid signature",
      );
      const [sourceStatus] = (await ok(daemon.port, "catalog.sources", {}, cliCaller)) as Array<{
        error: { message: string } | null;
      }>;
      assert.match(sourceStatus?.error?.message ?? "", /signed by 0\/1 keys/);
      available = (await ok(daemon.port, "package.available", {}, cliCaller)) as Available[];
      assert.equal(
        available.find((a) => a.id === "alpha")?.version,
        "1.1.0",
        "the last good catalog is served",
      );
    } finally {
      await daemon.close();
    }
  } finally {
    await server.close();
    rmSync(base, { recursive: true, force: true });
  }
});
