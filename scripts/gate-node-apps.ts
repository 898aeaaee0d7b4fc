/**
 * The apps scripts/gate-node offers the daemon in the systemd test node: copies of the apps of
 * FROM in TO, made fit for the node by the gate's own sandbox rewrite (src/gate/isolate.ts) with
 * their ids and host ports kept — host ports bound to the node's 127.0.0.1, host-path permissions
 * moved under HOST_ROOT (a path inside the node), every device replaced by /dev/zero at the same
 * path inside the container — and without memory limits (the node's cgroup tree has no memory
 * controller, so crun cannot set one there). Prints each host directory the copies need (inside
 * the node), one a line, for the caller to create.
 *
 *   node scripts/gate-node-apps.ts FROM TO HOST_ROOT
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { hostPathsOf, isolateManifest, publishedPorts } from "../src/gate/isolate.ts";
import { loadManifest } from "../src/manifest/load.ts";
import { loadAppsDir } from "../src/sources/local.ts";

const [from, to, hostRoot] = process.argv.slice(2);
if (!from || !to || !hostRoot?.startsWith("/")) {
  console.error("usage: gate-node-apps.ts FROM TO HOST_ROOT (HOST_ROOT absolute, inside the node)");
  process.exit(2);
}
const listing = await loadAppsDir(resolve(from));
if (listing.rejected.length > 0) {
  console.error(
    `gate-node-apps: invalid manifests in ${from}: ${listing.rejected.map((r) => r.dir).join(", ")}`,
  );
  process.exit(1);
}
const ids = Object.fromEntries(listing.apps.map((a) => [a.id, a.id]));
mkdirSync(to, { recursive: true });
const needed: string[] = [];
for (const app of listing.apps) {
  const ports = Object.fromEntries(publishedPorts(app.text).map((p) => [p.key, p.host]));
  const stripped = app.text.replace(/^[ \t]+memory:.*\n/gm, "");
  const isolated = isolateManifest(stripped, { prefix: "gn", ids, ports, hostRoot, device: "/dev/zero" });
  const target = join(to, app.id);
  cpSync(app.dir, target, { recursive: true, dereference: true });
  writeFileSync(join(target, "manifest.yml"), isolated.text);
  const loaded = await loadManifest(target);
  if (!loaded.ok) {
    console.error(
      `gate-node-apps: the node's copy of ${app.id} is invalid: ${loaded.issues.map((i) => `${i.line}:${i.column} ${i.message}`).join("; ")}`,
    );
    process.exit(1);
  }
  needed.push(...hostPathsOf(app.text, hostRoot));
}
for (const dir of needed) console.log(dir);
