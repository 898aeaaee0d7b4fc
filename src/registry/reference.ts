/** Where an image reference pulls from: its registry, and its repository and tag or digest there. */

/** Docker Hub's host, for references that name no registry (`nginx:1`, `library/nginx`). */
export const DEFAULT_REGISTRY = "docker.io";

/** The registry an image reference pulls from: its first part when that names a host. */
export function registryOf(reference: string): string {
  const slash = reference.indexOf("/");
  if (slash < 0) return DEFAULT_REGISTRY;
  const first = reference.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost"
    ? first.toLowerCase()
    : DEFAULT_REGISTRY;
}

/** An image reference split for the registry API. */
export type ImageLocation = {
  /** The registry as references name it (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** The host its API answers on (Docker Hub's differs from its name). */
  apiHost: string;
  repository: string;
  /** The digest when the reference pins one, else the tag (`latest` when it names none). */
  reference: string;
};

export function locateImage(image: string): ImageLocation {
  const registry = registryOf(image);
  const named = image.toLowerCase().startsWith(`${registry}/`) ? image.slice(registry.length + 1) : image;
  const at = named.indexOf("@");
  const withTag = at < 0 ? named : named.slice(0, at);
  const colon = withTag.lastIndexOf(":");
  const tagged = colon > withTag.lastIndexOf("/");
  const repository = tagged ? withTag.slice(0, colon) : withTag;
  return {
    registry,
    apiHost: registry === DEFAULT_REGISTRY ? "registry-1.docker.io" : registry,
    repository:
      registry === DEFAULT_REGISTRY && !repository.includes("/") ? `library/${repository}` : repository,
    reference: at >= 0 ? named.slice(at + 1) : tagged ? withTag.slice(colon + 1) : "latest",
  };
}
