/**
 * What an app's containers are rendered with: the data root, its dependencies' manifests, the
 * subnets of its and their networks (fixed addresses and hosts entries come from them:
 * render/addresses.ts) and each app's naming scheme.
 */
import type { Manifest } from "../manifest/schema.ts";
import type { RenderContext } from "../render/model.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { ManifestCache } from "./manifest-cache.ts";
import type { Store } from "./store.ts";

export class RenderContexts {
  readonly #store: Store;
  readonly #manifests: ManifestCache;
  readonly #runtime: Runtime;
  readonly #dataRoot: string;
  /** App networks' subnets by app id, as learnt from the engine (see `learnSubnets`). */
  readonly #subnets = new Map<string, string>();

  constructor(options: { store: Store; manifests: ManifestCache; runtime: Runtime; dataRoot: string }) {
    this.#store = options.store;
    this.#manifests = options.manifests;
    this.#runtime = options.runtime;
    this.#dataRoot = options.dataRoot;
  }

  of(manifest: Manifest): RenderContext {
    const dependencies: Record<string, Manifest> = {};
    for (const dependency of manifest.dependencies) {
      const row = this.#store.getApp(dependency.id);
      const parsed = row ? this.#manifests.of(row).manifest : undefined;
      if (parsed) dependencies[dependency.id] = parsed;
    }
    const subnets: Record<string, string> = {};
    for (const id of [manifest.id, ...Object.keys(dependencies)]) {
      const subnet = this.#subnets.get(id);
      if (subnet) subnets[id] = subnet;
    }
    const naming: RenderContext["naming"] = {};
    for (const id of [manifest.id, ...Object.keys(dependencies)]) {
      const row = this.#store.getApp(id);
      if (row) naming[id] = row.naming;
    }
    const own = this.#store.getApp(manifest.id);
    const envFiles = own ? this.#store.envFiles(own.id, own.manifestHash) : {};
    return { dataRoot: this.#dataRoot, dependencies, subnets, naming, envFiles };
  }

  /** The context of an app whose manifest is not there (no longer valid): nothing depends on it. */
  bare(): RenderContext {
    return { dataRoot: this.#dataRoot, dependencies: {} };
  }

  /**
   * Learns the subnets of the networks of an app and of its dependencies that this daemon does
   * not know yet.
   */
  async learnSubnets(manifest: Manifest): Promise<void> {
    for (const id of [manifest.id, ...manifest.dependencies.map((d) => d.id)]) {
      if (this.#subnets.has(id)) continue;
      const subnet = await this.#runtime.networkSubnet(id);
      if (subnet) this.#subnets.set(id, subnet);
    }
  }

  /** The app's network may be new or gone: its subnet is learnt again. */
  forgetSubnet(appId: string): void {
    this.#subnets.delete(appId);
  }
}
