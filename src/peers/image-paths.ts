/**
 * The paths of the OCI distribution API a node serves its peers (serve.ts), parsed: pure. Only the
 * read side, only by digest: `<name>/manifests/sha256:<hex>` and `<name>/blobs/sha256:<hex>`, the
 * name as the distribution spec allows it (lowercase components split by `/`). A tag names what
 * its registry says today; a digest names the same bytes for everyone, and is what a peer verifies.
 */

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export type DistributionPath =
  | { kind: "base" }
  | { kind: "manifest" | "blob"; name: string; digest: string }
  | { kind: "refused"; code: string; message: string };

/** What the part of a request's path after `/v2/` asks for. */
export function distributionPath(rest: string): DistributionPath {
  if (rest === "") return { kind: "base" };
  const match = /^(.+)\/(manifests|blobs)\/([^/]+)$/.exec(rest);
  if (!match)
    return {
      kind: "refused",
      code: "UNSUPPORTED",
      message:
        "a peer serves manifests and blobs by digest only: /v2/<name>/manifests/<digest>, /v2/<name>/blobs/<digest>",
    };
  const [, name, what, reference] = match as unknown as [string, string, string, string];
  if (name.length > 255 || !NAME.test(name))
    return {
      kind: "refused",
      code: "NAME_INVALID",
      message: `${JSON.stringify(name)} is not a repository name`,
    };
  if (!DIGEST.test(reference))
    return {
      kind: "refused",
      code: what === "manifests" ? "MANIFEST_UNKNOWN" : "DIGEST_INVALID",
      message: `${JSON.stringify(reference)} is not a digest: a peer serves by sha256:<64 hex digits> only, never by tag`,
    };
  return { kind: what === "manifests" ? "manifest" : "blob", name, digest: reference };
}
