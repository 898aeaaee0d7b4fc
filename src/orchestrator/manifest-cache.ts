/**
 * Stored apps' manifests, parsed once per content hash (the stored text is the one source of
 * truth). Parsing YAML and checking it against the schema costs about a millisecond a manifest: a
 * daemon that lists 100 apps at boot would spend its first tenth of a second on it. So the parsed
 * form is also kept in the store, where the next daemon reads it back as JSON.
 */
import { createHash } from "node:crypto";
import { parseManifest, STORED_MANIFEST_TOLERATED_RULES } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { AppRow } from "./store.ts";

export type ParsedStoredManifest = { manifest?: Manifest; error?: string };

/**
 * The version of the parsed form, and the hash of the JSON Schema it was made with (a test keeps
 * them together): a parsed form from another version is parsed again, never trusted.
 */
export const PARSED_FORM = {
  // 6: a port's `bind` is no longer filled in (an interface's port defaults to 127.0.0.1, any other
  // to 0.0.0.0: manifest/access.ts), and interfaces have `auth` and `public_paths`.
  version: 6,
  schemaSha256: "84fc8f11738fdda71d6bd595e6f1d59f8b8ab5f7b8115dca5681a23bf3d4432e",
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

  /** Whether `app` declares `dependencyId` among its dependencies. */
  dependsOn(app: AppRow, dependencyId: string): boolean {
    return this.of(app).manifest?.dependencies.some((d) => d.id === dependencyId) ?? false;
  }
}
