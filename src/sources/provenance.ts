/**
 * Where an app comes from, and whether an update would change it: another source (a local manifest
 * replaced by a catalog's, one catalog by another) or, within a catalog, another signer (another
 * namespace role, or the same namespace with other keys). Such an update is never applied
 * silently: the operator consents to it (`switchSource`). Pure.
 */

/** An app's source (`local:<dir>`, `catalog:<name>`) and, for a catalog app, who signed it there. */
export type Provenance = { source: string; publisher?: string | undefined };

/**
 * Who an app's manifests come from: a catalog by its name; for local manifests, the node's operator,
 * whichever directory holds them (a new version is often a new directory, the operator's own choice).
 */
function originOf(source: string): string {
  return source.startsWith("local:") ? "local" : source;
}

/** What an update from `installed` to `offered` would change of its provenance, in words; undefined: nothing. */
export function provenanceChange(installed: Provenance, offered: Provenance): string | undefined {
  if (originOf(installed.source) !== originOf(offered.source))
    return `switch its source from ${installed.source} to ${offered.source}${
      offered.publisher ? ` (signed by ${offered.publisher})` : ""
    }`;
  // An app installed before publishers were recorded has none: its first update records one.
  if (installed.publisher !== undefined && installed.publisher !== offered.publisher)
    return `change who signs it in ${offered.source}, from ${installed.publisher} to ${offered.publisher ?? "nobody"}`;
  return undefined;
}
