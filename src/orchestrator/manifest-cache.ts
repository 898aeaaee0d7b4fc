/**
 * Stored apps' manifests, parsed once per content hash (the stored text is the one source of
 * truth). Parsing YAML and checking it against the schema costs about a millisecond a manifest: a
 * daemon that lists 100 apps at boot would spend its first tenth of a second on it. So the parsed
 * form is also kept in the store, where the next daemon reads it back as JSON.
 */
import { createHash } from "node:crypto";
import { manifestJsonSchema } from "../manifest/json-schema.ts";
import { MANIFEST_RULES_VERSION, parseManifest, STORED_MANIFEST_TOLERATED_RULES } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { AppRow, Store } from "./store.ts";

export type ParsedStoredManifest = { manifest?: Manifest; error?: string };

/**
 * What a stored parsed form was made under, derived from the rules themselves: the version of the
 * rules in code (`MANIFEST_RULES_VERSION`, bumped by hand), and a hash of the JSON Schema generated
 * from the zod schema and of the rules tolerated in stored manifests. A parsed form made under
 * anything else is parsed again, never trusted.
 */
export function parsedFormKey(rules: {
  version: number;
  jsonSchema: unknown;
  tolerated: ReadonlySet<string>;
}): string {
  const hash = createHash("sha256")
    .update(JSON.stringify(rules.jsonSchema))
    .update("\n")
    .update([...rules.tolerated].sort().join("\n"))
    .digest("hex");
  return `${rules.version}.${hash.slice(0, 12)}`;
}

let current: string | undefined;

/**
 * The key of this code's parsed forms, computed on first use (generating the JSON Schema takes a
 * few milliseconds, once per daemon run; a daemon without apps never pays it).
 */
export function currentParsedFormKey(): string {
  current ??= parsedFormKey({
    version: MANIFEST_RULES_VERSION,
    jsonSchema: manifestJsonSchema(),
    tolerated: STORED_MANIFEST_TOLERATED_RULES,
  });
  return current;
}

/** Where parsed forms outlive the daemon (the store). */
export type ParsedManifestStore = {
  getParsedManifest(key: string): string | undefined;
  putParsedManifest(key: string, json: string): void;
};

/** The content hash of a manifest's source text, as stored. */
export function manifestHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export type InstalledManifest = { id: string; manifest: Manifest | undefined };

export class ManifestCache {
  readonly #parsed = new Map<string, ParsedStoredManifest>();
  /** The last answer of `installed`, and the store revision it was read at. */
  #installed: { store: object; revision: number; apps: readonly InstalledManifest[] } | undefined;
  readonly #persisted: ParsedManifestStore | undefined;

  constructor(persisted?: ParsedManifestStore) {
    this.#persisted = persisted;
  }

  of(app: Pick<AppRow, "id" | "manifestText" | "manifestHash">): ParsedStoredManifest {
    const cached = this.#parsed.get(app.manifestHash);
    if (cached) return cached;
    const key = `${currentParsedFormKey()}:${app.manifestHash}`;
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

  /**
   * Every installed app's parsed manifest; stored texts are read only for manifests not seen yet.
   * Asked per app in a pass (dependents to wake, legacy names) and by the health tick every second:
   * the list is read again only when the store has moved (its `writeRevision`), so an idle daemon's
   * passes do not query the store once per app.
   */
  installed(store: Pick<Store, "listAppHeads" | "getApp" | "writeRevision">): readonly InstalledManifest[] {
    if (this.#installed?.store === store && this.#installed.revision === store.writeRevision)
      return this.#installed.apps;
    const apps = store.listAppHeads().map(({ id, manifestHash }) => {
      const known = this.cached(manifestHash);
      if (known) return { id, manifest: known.manifest };
      const row = store.getApp(id);
      return { id, manifest: row ? this.of(row).manifest : undefined };
    });
    // The revision after reading: a manifest parsed here is kept in the store (a write), and
    // nothing else runs in between (synchronous).
    this.#installed = { store, revision: store.writeRevision, apps };
    return apps;
  }

  /** Whether `app` declares `dependencyId` among its dependencies. */
  dependsOn(app: AppRow, dependencyId: string): boolean {
    return this.of(app).manifest?.dependencies.some((d) => d.id === dependencyId) ?? false;
  }
}
