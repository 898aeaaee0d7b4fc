/**
 * How an app's resources are named and labelled on the node. Every renderer and the runtime use
 * these functions, so a container created by one backend is recognised by every other part.
 */
import { createHash } from "node:crypto";
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

/**
 * How an installed app's resources are named. Scheme 1 is the first releases': parts joined by
 * `-`, which ids and names also contain, so two apps could get the same names (`sx-v` with volume
 * `db-data` and `sx-v-db` with volume `data` were both `archy-sx-v-db-data`). Scheme 2 joins parts
 * with separators their parts cannot contain, so no two (app, name) pairs share a name. An app
 * keeps the scheme it was installed with (the store records it): an upgrade renames nothing.
 */
export const NAMING_SCHEMES = [1, 2] as const;
export type NamingScheme = (typeof NAMING_SCHEMES)[number];
/** The scheme of apps installed from now on. */
export const CURRENT_NAMING: NamingScheme = 2;

/** The platform's prefix: its networks, volumes and secrets (and their Quadlet units) begin with it. */
export const PLATFORM_PREFIX = "archy-";
/** The daemon's own systemd user unit (`archipelago.service`), beside the Quadlet units of apps. */
export const DAEMON_UNIT = "archipelago";
/**
 * What no app id contains (the `naming.reserved` rule): it joins an id to what follows it in a
 * DNS-valid name, a container key (scheme 2) or, in Kubernetes names, a namespaced id's second part.
 */
export const ID_SEPARATOR = "--";
/** Between an app id and a volume or secret name (scheme 2): neither can contain it. */
export const NAME_SEPARATOR = "_";

/**
 * Why a container name (an app id, which names a one-container app's container, or an explicit
 * `container_name`) cannot be used, or undefined when it can: the names the platform generates for
 * its own objects and for stacks' containers are never available, so an app can never take them.
 */
export function reservedNameProblem(name: string, what: "id" | "container_name"): string | undefined {
  if (name.startsWith(PLATFORM_PREFIX))
    return `${PLATFORM_PREFIX}… names are the platform's own (app networks, volumes, secrets and their units)`;
  if (name === DAEMON_UNIT) return `${DAEMON_UNIT} is the name of the daemon's own systemd unit`;
  if (name.includes(ID_SEPARATOR))
    return what === "id"
      ? `'${ID_SEPARATOR}' joins an app id and a container key in container names (<app>${ID_SEPARATOR}<key>), so an id cannot contain it`
      : `'${ID_SEPARATOR}' is the form of generated container names (<app>${ID_SEPARATOR}<key>), which another app may get`;
  return undefined;
}

/**
 * The container name of one container of an app: its explicit `container_name`, else the app id
 * alone for a one-container app, else `<app>--<key>` (scheme 1: `<app>-<key>`).
 */
export function containerName(manifest: Manifest, key: string, scheme: NamingScheme): string {
  const explicit = manifest.containers[key]?.container_name;
  if (explicit) return explicit;
  if (Object.keys(manifest.containers).length === 1) return manifest.id;
  return `${manifest.id}${scheme === 1 ? "-" : ID_SEPARATOR}${key}`;
}

/** The app's dedicated network: `archy-<app>` in every scheme (an id alone is already unique). */
export function networkName(appId: string): string {
  return `${PLATFORM_PREFIX}${appId}`;
}

/** The Podman volume that holds one app volume: `archy-<app>_<volume>` (scheme 1: `archy-<app>-<volume>`). */
export function volumeName(appId: string, volume: string, scheme: NamingScheme): string {
  return `${PLATFORM_PREFIX}${appId}${scheme === 1 ? "-" : NAME_SEPARATOR}${volume}`;
}

/** The Podman secret that holds one generated secret: `archy-<app>_<secret>` (scheme 1: `archy-<app>-<secret>`). */
export function secretName(appId: string, secret: string, scheme: NamingScheme): string {
  return `${PLATFORM_PREFIX}${appId}${scheme === 1 ? "-" : NAME_SEPARATOR}${secret}`;
}

/**
 * The Podman secret that holds an environment value the daemon renders from a template with a
 * secret in it: `archy-<app>_env.<hash>`. Secret names are DNS labels, so no generated secret has
 * this name. `template` is the value with its references resolved to names (never to values): a
 * changed template, or a reference to other things, is a secret of another name, so the spec that
 * names it changes and the container is recreated, while the container made from the old one
 * keeps a secret of its own until purge, which removes every name of the app's prefix.
 */
export function renderedSecretName(appId: string, key: string, variable: string, template: string): string {
  return `${renderedSecretPrefix(appId)}${hash8(`${key}\0${variable}\0${template}`)}`;
}

/** What the names of an app's rendered environment values, and no other secret's, start with. */
export function renderedSecretPrefix(appId: string): string {
  return `${PLATFORM_PREFIX}${appId}${NAME_SEPARATOR}env.`;
}

/** The longest DNS label (RFC 1035); Kubernetes takes it as the longest object name too. */
export const MAX_DNS_LABEL = 63;

/** The first 8 hex digits of the SHA-256 of `text`: a short suffix that keeps shortened names apart. */
export function hash8(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/** A DNS label (at most 63 characters), shortened with a hash suffix when needed. */
export function dnsLabel(text: string): string {
  const label = text.replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "");
  return label.length <= MAX_DNS_LABEL
    ? label
    : `${label.slice(0, MAX_DNS_LABEL - 9).replace(/-+$/, "")}-${hash8(text)}`;
}

/**
 * An app id as one DNS label, a namespaced id's dot made `--`, which no id contains (`alice.relay`
 * → `alice--relay`, never `alice-relay`'s label); a label over 63 characters is shortened with a
 * hash. Kubernetes names the app's objects with it and the node names the app's host with it
 * (`<label>.<node>`, docs/app-access.md).
 */
export function appDnsLabel(appId: string): string {
  return dnsLabel(appId.replace(".", ID_SEPARATOR));
}

/** The host directory backing an app volume, under the node's data root (one directory per app: unique). */
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
