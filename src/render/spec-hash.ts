/**
 * The spec hash: sha256 (hex) of the canonical JSON of a container's rendered libpod create body,
 * without the spec-hash label itself. Both the plain Podman and the Quadlet backend label the
 * container with it, so the daemon can tell from one labelled list call whether a running
 * container still matches its manifest (and needs no recreation), whichever backend created it.
 */
import { createHash } from "node:crypto";
import { LABELS } from "../manifest/naming.ts";
import { canonicalJson } from "./canonical.ts";

/** The hash of a libpod create body; a spec-hash label already in it is ignored. */
export function specHash(spec: { labels?: Record<string, string> }): string {
  const labels = { ...spec.labels };
  delete labels[LABELS.specHash];
  return createHash("sha256")
    .update(canonicalJson({ ...spec, labels }))
    .digest("hex");
}
