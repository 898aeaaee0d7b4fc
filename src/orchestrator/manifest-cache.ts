/**
 * Stored apps' manifests, parsed once per content hash (the stored text is the one source of
 * truth). Parsing YAML and checking it against the schema costs about a millisecond a manifest: a
 * daemon that lists 100 apps at boot would spend its first tenth of a second on it. So the parsed
 * form is also kept in the store, where the next daemon reads it back as JSON.
 */
import { createHash } from "node:crypto";
import { parseManifest, STORED_MANIFEST_TOLERATED_RULES } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { AppRow, Store } from "./store.ts";

export type ParsedStoredManifest = { manifest?: Manifest; error?: string };

/**
 * The version of the parsed form, and the hash of the JSON Schema it was made with (a test keeps
 * them together): a parsed form from another version is parsed again, never trusted.
 */
export const PARSED_FORM = {
  // 5: host paths follow the allow-list of manifest/host-paths.ts, which is not tolerated, and ids
  // and container names keep out of the platform's names (naming.ts): forms made before are
  // validated again.
  version: 5,
  schemaSha256: "10c8a07b3ad9c5939612f42f0f92452a7b75165f1bdb8320b0f3650eba5dfab3",
} as const;

/** Where parsed forms outlive the daemon (the store). */
export type ParsedManifestStore = {
  getParsedManifest(key: string): string | undefined;
  putParsedManifest(key: string, json: string): void;
};

/** The content hash of a manifest's source text, as stored. */
export function manifestHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export class ManifestCache {
  readonly #parsed = new Map<string, ParsedStoredManifest>();
  readonly #persisted: ParsedManifestStore | undefined;

  constructor(persisted?: ParsedManifestStore) {
    this.#persisted = persisted;
  }

  of(app: Pick<AppRow, "id" | "manifestText" | "manifestHash">): ParsedStoredManifest {
    const cached = this.#parsed.get(app.manifestHash);
    if (cached) return cached;
    const key = `${PARSED_FORM.version}.${PARSED_FORM.schemaSha256.slice(0, 12)}:${app.manifestHash}`;
    const json = this.#persisted?.getParsedManifest(key);
    if (json !== undefined) {
      const result = { manifest: JSON.parse(json) as Manifest };
      this.#parsed.set(app.manifestHash, result);
      return result;
    }
    const parsed = parseManifest(app.manifestText, `${app.id} (stored manifest)`, {
      tolerate: STORED_MANIFEST_TOLERATED_RULES,
    });
    const result = parsed.ok
      ? { manifest: parsed.manifest }
      : { error: parsed.issues.map((i) => `${i.path}: ${i.message}`).join("; ") };
    this.#parsed.set(app.manifestHash, result);
    if (parsed.ok) this.#persisted?.putParsedManifest(key, JSON.stringify(parsed.manifest));
    return result;
  }

  /** The parse of a manifest this cache has seen, by content hash. */
  cached(hash: string): ParsedStoredManifest | undefined {
    return this.#parsed.get(hash);
  }

  /** Every installed app's parsed manifest; stored texts are read only for manifests not seen yet. */
  installed(
    store: Pick<Store, "listAppHeads" | "getApp">,
  ): Array<{ id: string; manifest: Manifest | undefined }> {
    return store.listAppHeads().map(({ id, manifestHash }) => {
      const known = this.cached(manifestHash);
      if (known) return { id, manifest: known.manifest };
      const row = store.getApp(id);
      return { id, manifest: row ? this.of(row).manifest : undefined };
    });
  }

  /** Whether `app` declares `dependencyId` among its dependencies. */
  dependsOn(app: AppRow, dependencyId: string): boolean {
    return this.of(app).manifest?.dependencies.some((d) => d.id === dependencyId) ?? false;
  }
}
