/**
 * Every name an installed app takes on the node, in each namespace where two apps could meet:
 * Podman's containers (the names it creates and the legacy names it adopts), networks, volumes and
 * secrets, and the user's systemd units (Quadlet turns a container `X` into `X.service`, a network
 * `N` into `N-network.service`, a volume `V` into `V-volume.service`, beside the daemon's own unit).
 * Two installed apps never share one: an install or update that would is refused, and apps that
 * already do (installed under naming scheme 1, see naming.ts) are not run until they are separated.
 * Pure.
 */
import {
  containerName,
  DAEMON_UNIT,
  type NamingScheme,
  networkName,
  secretName,
  volumeName,
} from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import { byCodeUnit } from "./canonical.ts";
import { serviceOfUnitFile, volumeUnitName } from "./quadlet.ts";

export type ResourceKind = "container" | "network" | "volume" | "secret" | "unit";
export type Resource = { kind: ResourceKind; name: string };

const WORDS: Record<ResourceKind, string> = {
  container: "container name",
  network: "Podman network",
  volume: "Podman volume",
  secret: "Podman secret",
  unit: "systemd unit",
};

/** A resource as one string, for sets of them. */
export function resourceKey(kind: ResourceKind, name: string): string {
  return `${kind}\0${name}`;
}

/** The operator's words for a resource: `Podman volume archy-notes_db-data`. */
export function describeResource(resource: Resource): string {
  return `${WORDS[resource.kind]} ${resource.name}`;
}

/** The units of the platform itself, which no app may take. */
const PLATFORM_UNITS: readonly string[] = [`${DAEMON_UNIT}.service`];

/** The names `manifest` takes on a node where it is installed under `scheme`, sorted. */
export function appResources(manifest: Manifest, scheme: NamingScheme): Resource[] {
  const out = new Map<string, Resource>();
  const add = (kind: ResourceKind, name: string) => out.set(resourceKey(kind, name), { kind, name });
  const network = networkName(manifest.id);
  add("network", network);
  add("unit", serviceOfUnitFile(`${network}.network`));
  for (const key of Object.keys(manifest.containers)) {
    const name = containerName(manifest, key, scheme);
    add("container", name);
    add("unit", serviceOfUnitFile(`${name}.container`));
    for (const volume of manifest.containers[key]?.volumes ?? [])
      if (volume.name !== undefined) {
        const podmanVolume = volumeName(manifest.id, volume.name, scheme);
        add("volume", podmanVolume);
        add("unit", serviceOfUnitFile(volumeUnitName(podmanVolume)));
      }
  }
  for (const names of Object.values(manifest.adoption.containers))
    for (const name of names) add("container", name);
  for (const secret of Object.keys(manifest.secrets)) add("secret", secretName(manifest.id, secret, scheme));
  return [...out.values()].sort((a, b) => byCodeUnit(a.kind, b.kind) || byCodeUnit(a.name, b.name));
}

/** The resources of `mine` that `theirs` also takes (the platform's own units count as taken). */
export function sharedResources(mine: readonly Resource[], theirs: readonly Resource[]): Resource[] {
  const taken = new Set(theirs.map((r) => resourceKey(r.kind, r.name)));
  return mine.filter((r) => taken.has(resourceKey(r.kind, r.name)));
}

/** The resources of `mine` that belong to the platform itself. */
export function platformResources(mine: readonly Resource[]): Resource[] {
  return mine.filter((r) => r.kind === "unit" && PLATFORM_UNITS.includes(r.name));
}
