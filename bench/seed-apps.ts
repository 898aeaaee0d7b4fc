/**
 * Installed apps for benchmarks that need many: recorded in a data directory's store as
 * `package.install` records them, each then observed running with one healthy container, as the
 * reconciler would after a pass. No container exists.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseManifest } from "../src/manifest/parse.ts";
import { Lifecycle } from "../src/orchestrator/lifecycle.ts";
import { ManifestCache } from "../src/orchestrator/manifest-cache.ts";
import { Store } from "../src/orchestrator/store.ts";

const SAMPLE_MANIFEST = fileURLToPath(new URL("../apps/hello-web/manifest.yml", import.meta.url));

/** N apps in the store, recorded as `package.install` records them, then observed running. */
export function seedApps(dataDir: string, apps: number): void {
  const template = readFileSync(SAMPLE_MANIFEST, "utf8")
    // Legacy names are claims on containers: 100 apps cannot all adopt the same ones.
    .replace(/\nadoption:[\s\S]*$/, "\n");
  const store = new Store(join(dataDir, "state", "store.db"));
  try {
    const lifecycle = new Lifecycle({ store, manifests: new ManifestCache(), wake: () => {} });
    const now = Date.now();
    for (let i = 1; i <= apps; i++) {
      const id = `bench-app-${String(i).padStart(3, "0")}`;
      const text = template
        .replace(/^id: hello-web$/m, `id: ${id}`)
        .replace(/^name: Hello Web$/m, `name: Bench App ${i}`)
        .replace(/host: 18080/, `host: ${20000 + i}`);
      const parsed = parseManifest(text, `${id}/manifest.yml`);
      if (!parsed.ok) throw new Error(`${id}: ${parsed.issues[0]?.message}`);
      const accepted = lifecycle.install({ text, manifest: parsed.manifest, source: `local:/bench/${id}` });
      store.setOperationState(accepted.operationId, "succeeded", now);
      store.updateStatus(id, { phase: "running", observedGeneration: 1, attempts: 0 }, now);
      store.saveObservation(id, [
        {
          appId: id,
          key: "web",
          name: id,
          containerId: randomBytes(32).toString("hex"),
          state: "running",
          health: "healthy",
          exitCode: 0,
          restarts: 0,
          startedAt: now - 60_000,
          backend: "podman",
          specHash: randomBytes(16).toString("hex"),
          observedAt: now,
        },
      ]);
    }
  } finally {
    store.close();
  }
}
