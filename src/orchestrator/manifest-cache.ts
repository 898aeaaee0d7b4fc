/** Stored apps' manifests, parsed once per content hash (stored text is the one source of truth). */
import { createHash } from "node:crypto";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { AppRow } from "./store.ts";

export type ParsedStoredManifest = { manifest?: Manifest; error?: string };

/** The content hash of a manifest's source text, as stored. */
export function manifestHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export class ManifestCache {
  readonly #parsed = new Map<string, ParsedStoredManifest>();

  of(app: Pick<AppRow, "id" | "manifestText" | "manifestHash">): ParsedStoredManifest {
    const cached = this.#parsed.get(app.manifestHash);
    if (cached) return cached;
    const parsed = parseManifest(app.manifestText, `${app.id} (stored manifest)`);
    const result = parsed.ok
      ? { manifest: parsed.manifest }
      : { error: parsed.issues.map((i) => `${i.path}: ${i.message}`).join("; ") };
    this.#parsed.set(app.manifestHash, result);
    return result;
  }

  /** Whether `app` declares `dependencyId` among its dependencies. */
  dependsOn(app: AppRow, dependencyId: string): boolean {
    return this.of(app).manifest?.dependencies.some((d) => d.id === dependencyId) ?? false;
  }
}
