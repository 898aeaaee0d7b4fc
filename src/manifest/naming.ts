/**
 * How an app's resources are named and labelled on the node. Every renderer and the runtime use
 * these functions, so a container created by one backend is recognised by every other part.
 */
import type { Manifest } from "./schema.ts";

export const LABEL_PREFIX = "io.archipelago";
export const LABELS = {
  owner: `${LABEL_PREFIX}.owner`,
  app: `${LABEL_PREFIX}.app`,
  container: `${LABEL_PREFIX}.container`,
  version: `${LABEL_PREFIX}.version`,
  specHash: `${LABEL_PREFIX}.spec-hash`,
} as const;
/** The value of the owner label on everything the platform creates. */
export const OWNER = "archipelago";

/** The container name of one container of an app: the app id alone for a one-container app. */
export function containerName(manifest: Manifest, key: string): string {
  const explicit = manifest.containers[key]?.container_name;
  if (explicit) return explicit;
  return Object.keys(manifest.containers).length === 1 ? manifest.id : `${manifest.id}-${key}`;
}

/** The app's dedicated network. */
export function networkName(appId: string): string {
  return `archy-${appId}`;
}

/** The Podman volume that holds one app volume. */
export function volumeName(appId: string, volume: string): string {
  return `archy-${appId}-${volume}`;
}

/** The Podman secret that holds one generated secret. */
export function secretName(appId: string, secret: string): string {
  return `archy-${appId}-${secret}`;
}

/** The host directory backing an app volume, under the node's data root. */
export function volumeHostPath(dataRoot: string, appId: string, volume: string): string {
  return `${dataRoot.replace(/\/+$/, "")}/apps/${appId}/volumes/${volume}`;
}

/** Container keys in an order where every container comes after the ones it `depends_on`. */
export function startOrder(manifest: Manifest): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (key: string): void => {
    if (order.includes(key) || visiting.has(key)) return;
    visiting.add(key);
    for (const dep of Object.keys(manifest.containers[key]?.depends_on ?? {}).sort()) visit(dep);
    visiting.delete(key);
    order.push(key);
  };
  for (const key of Object.keys(manifest.containers).sort()) visit(key);
  return order;
}
