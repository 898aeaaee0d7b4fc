/**
 * The plain Podman backend's input: the exact JSON bodies of the libpod REST API calls that create
 * an app's network (`POST /v4.0.0/libpod/networks/create`), its volumes
 * (`POST /v4.0.0/libpod/volumes/create`) and each container
 * (`POST /v4.0.0/libpod/containers/create`, a SpecGenerator). Field names are libpod's JSON tags
 * (checked against Podman 4.3, which decodes them case-insensitively but ignores unknown ones).
 *
 * Secrets are references only: `secret_env` maps a variable to a Podman secret's name and
 * `secrets` mounts a Podman secret as a file; no value is ever part of a body.
 */
import { LABELS, OWNER } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import { networkSubnet } from "./addresses.ts";
import { byCodeUnit, prettyJson } from "./canonical.ts";
import { healthTest } from "./health.ts";
import {
  type RenderContext,
  type RenderedFile,
  type ResolvedApp,
  type ResolvedContainer,
  resolveApp,
  templateText,
} from "./model.ts";
import { specHash } from "./spec-hash.ts";

const NS_PER_MS = 1_000_000;
/** Options of the tmpfs mounts, as Podman's CLI gives `--tmpfs` and `--read-only` mounts. */
export const TMPFS_OPTIONS = ["rw", "nosuid", "nodev"];

export type NetworkCreateBody = {
  name: string;
  driver: "bridge";
  dns_enabled: true;
  labels: Record<string, string>;
  /** Set when the platform chose the subnet: Podman leases the lower part, fixed addresses use the top. */
  subnets?: Array<NonNullable<ReturnType<typeof networkSubnet>>>;
};

export type VolumeCreateBody = {
  Name: string;
  Driver: "local";
  Label: Record<string, string>;
  Options: { device: string; type: "none"; o: "bind" };
};

export type ContainerCreateBody = {
  name: string;
  image: string;
  entrypoint?: string[];
  command?: string[];
  work_dir?: string;
  user?: string;
  env: Record<string, string>;
  secret_env?: Record<string, string>;
  secrets?: Array<{ Source: string; Target: string; UID: number; GID: number; Mode: number }>;
  labels: Record<string, string>;
  netns: { nsmode: "bridge" };
  Networks: Record<string, { aliases?: string[]; static_ips?: string[] }>;
  /** `name:address` hosts entries for the dependencies' containers this one reaches (addresses.ts). */
  hostadd?: string[];
  portmappings?: Array<{ container_port: number; host_port: number; host_ip: string; protocol: string }>;
  volumes?: Array<{ Name: string; Dest: string; Options: string[] }>;
  mounts?: Array<{ destination: string; type: "tmpfs" | "bind"; source: string; options: string[] }>;
  devices?: Array<{ path: string }>;
  cap_drop: ["ALL"];
  cap_add?: string[];
  no_new_privileges: true;
  read_only_filesystem: boolean;
  init?: boolean;
  stop_timeout: number;
  stop_signal?: number;
  resource_limits?: { memory: { limit: number } };
  shm_size?: number;
  /** Resource limits by Podman's lower-case names (`nofile`), which it prefixes with `RLIMIT_`. */
  r_limits?: Array<{ type: string; soft: number; hard: number }>;
  healthconfig?: { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number };
};

export type ContainerPlan = { key: string; name: string; hash: string; body: ContainerCreateBody };

export type PodmanPlan = {
  network: NetworkCreateBody;
  volumes: VolumeCreateBody[];
  /** In start order. */
  containers: ContainerPlan[];
};

/** Labels on the app's network and volumes. */
export function appLabels(app: Pick<ResolvedApp, "id">): Record<string, string> {
  return { [LABELS.owner]: OWNER, [LABELS.app]: app.id };
}

/** The create body of one container, labelled with its spec hash. */
export function containerBody(app: ResolvedApp, c: ResolvedContainer): ContainerCreateBody {
  const env = { ...c.env };
  for (const host of c.envHosts) env[host.variable] = host.containerName;
  const secretEnv = Object.fromEntries(c.envSecrets.map((s) => [s.variable, s.podmanSecret]));
  for (const t of c.envTemplates)
    if (t.podmanSecret) secretEnv[t.variable] = t.podmanSecret;
    else env[t.variable] = templateText(t, (h) => h.containerName);
  const hostEntries = [
    ...new Set(
      [...c.envHosts, ...c.envTemplates.flatMap((t) => t.pieces.filter((p) => p.kind === "host"))].flatMap(
        (h) => (h.address ? [`${h.containerName}:${h.address}`] : []),
      ),
    ),
  ].sort(byCodeUnit);

  const published = c.ports.filter((p) => p.host !== undefined);
  const volumes = c.mounts.flatMap((m) =>
    m.kind === "volume" ? [{ Name: m.podmanVolume, Dest: m.path, Options: [m.readOnly ? "ro" : "rw"] }] : [],
  );
  const mounts = [
    ...c.mounts.flatMap((m) =>
      m.kind === "bind"
        ? [
            {
              destination: m.path,
              type: "bind" as const,
              source: m.source,
              options: ["rbind", m.readOnly ? "ro" : "rw"],
            },
          ]
        : [],
    ),
    ...c.tmpfs.map((path) => ({
      destination: path,
      type: "tmpfs" as const,
      source: "tmpfs",
      options: TMPFS_OPTIONS,
    })),
  ].sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0));

  const body: ContainerCreateBody = {
    name: c.name,
    image: c.image,
    entrypoint: c.entrypoint,
    command: c.command,
    work_dir: c.workingDir,
    user:
      c.user === undefined
        ? undefined
        : c.user.gid === undefined
          ? `${c.user.uid}`
          : `${c.user.uid}:${c.user.gid}`,
    env,
    secret_env: Object.keys(secretEnv).length > 0 ? secretEnv : undefined,
    secrets:
      c.fileSecrets.length > 0
        ? c.fileSecrets.map((s) => ({
            Source: s.podmanSecret,
            Target: s.target,
            UID: s.uid,
            GID: s.gid,
            Mode: s.mode,
          }))
        : undefined,
    labels: {
      [LABELS.owner]: OWNER,
      [LABELS.app]: app.id,
      [LABELS.container]: c.key,
      [LABELS.version]: app.version,
    },
    netns: { nsmode: "bridge" },
    Networks: Object.fromEntries(
      c.networks.map((n) => [
        n.network,
        {
          ...(n.aliases.length > 0 ? { aliases: n.aliases } : {}),
          ...(n.address ? { static_ips: [n.address] } : {}),
        },
      ]),
    ),
    hostadd: hostEntries.length > 0 ? hostEntries : undefined,
    portmappings:
      published.length > 0
        ? published.map((p) => ({
            container_port: p.container,
            host_port: p.host as number,
            host_ip: p.bind,
            protocol: p.protocol,
          }))
        : undefined,
    volumes: volumes.length > 0 ? volumes : undefined,
    mounts: mounts.length > 0 ? mounts : undefined,
    devices: c.devices.length > 0 ? c.devices.map((d) => ({ path: `${d.host}:${d.path}` })) : undefined,
    cap_drop: ["ALL"],
    cap_add: c.capAdd.length > 0 ? c.capAdd : undefined,
    no_new_privileges: true,
    read_only_filesystem: c.readOnly,
    // Absent unless asked for: the spec hash of every container without it stays as it was.
    init: c.init || undefined,
    stop_timeout: c.stopTimeoutSeconds,
    stop_signal: c.stopSignal?.number,
    resource_limits: c.memoryBytes === undefined ? undefined : { memory: { limit: c.memoryBytes } },
    // Both absent unless asked for: the spec hash of every container without them stays as it was.
    shm_size: c.shmBytes,
    r_limits:
      c.ulimits.length > 0 ? c.ulimits.map((u) => ({ type: u.name, soft: u.soft, hard: u.hard })) : undefined,
    healthconfig:
      c.health === undefined
        ? undefined
        : {
            Test: healthTest(c.health),
            Interval: c.health.interval * NS_PER_MS,
            Timeout: c.health.timeout * NS_PER_MS,
            Retries: c.health.retries,
            StartPeriod: c.health.start_period * NS_PER_MS,
          },
  };
  body.labels[LABELS.specHash] = specHash(body);
  return body;
}

/** Everything the plain backend creates for an app, in creation order. */
export function podmanPlan(manifest: Manifest, ctx: RenderContext): PodmanPlan {
  const app = resolveApp(manifest, ctx);
  const subnet = networkSubnet(app.subnet);
  return {
    network: {
      name: app.network,
      driver: "bridge",
      dns_enabled: true,
      labels: appLabels(app),
      ...(subnet ? { subnets: [subnet] } : {}),
    },
    volumes: app.volumes.map((v) => ({
      Name: v.podmanVolume,
      Driver: "local",
      Label: appLabels(app),
      Options: { device: v.hostPath, type: "none", o: "bind" },
    })),
    containers: app.containers.map((c) => {
      const body = containerBody(app, c);
      return { key: c.key, name: c.name, hash: body.labels[LABELS.specHash] as string, body };
    }),
  };
}

/** The plan as files: `<network>.network.json`, `<volume>.volume.json`, `<container>.container.json`. */
export function renderPodman(manifest: Manifest, ctx: RenderContext): RenderedFile[] {
  const plan = podmanPlan(manifest, ctx);
  return [
    { path: `${plan.network.name}.network.json`, content: prettyJson(plan.network) },
    ...plan.volumes.map((v) => ({ path: `${v.Name}.volume.json`, content: prettyJson(v) })),
    ...plan.containers.map((c) => ({ path: `${c.name}.container.json`, content: prettyJson(c.body) })),
  ];
}
