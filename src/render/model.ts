/**
 * The resolved form of an app that every renderer works from: names from `naming.ts`, references
 * to secrets and to dependencies' exports resolved, sets sorted and de-duplicated, and the few
 * defaults every backend must agree on applied in one place (for example the writable tmpfs mounts a
 * read-only container gets). Renderers only translate this model into their own syntax, so the
 * backends cannot drift apart.
 *
 * Secret values never enter the model: a secret is always a reference to a Podman secret (or, for
 * Kubernetes, to a key of the app's Secret object).
 */
import { publishedBind } from "../manifest/access.ts";
import {
  CURRENT_NAMING,
  containerName,
  type NamingScheme,
  networkName,
  secretName,
  startOrder,
  volumeHostPath,
  volumeName,
} from "../manifest/naming.ts";
import {
  type ContainerSpec,
  type DependsCondition,
  type HealthSpec,
  type Manifest,
  SIGNALS,
} from "../manifest/schema.ts";
import { fixedAddress } from "./addresses.ts";
import { byCodeUnit } from "./canonical.ts";

/** What a renderer needs besides the manifest. */
export type RenderContext = {
  /** The node's data root; app volumes live under `<dataRoot>/apps/<app>/volumes/<volume>`. */
  dataRoot: string;
  /** Manifests of the apps this one consumes exports from, by app id. */
  dependencies: Record<string, Manifest>;
  /**
   * The subnets of app networks as they exist, by app id (this app's and its dependencies'): where
   * known, exported containers get their fixed address and dependents a hosts entry for it (see
   * addresses.ts).
   */
  subnets?: Record<string, string>;
  /**
   * The naming scheme of this app and of its dependencies as installed on the node, by app id
   * (see naming.ts); an app not listed gets the current one, as a new install would.
   */
  naming?: Record<string, NamingScheme>;
};

/** The naming scheme of an app in a render context. */
export function namingOf(ctx: Pick<RenderContext, "naming">, appId: string): NamingScheme {
  return ctx.naming?.[appId] ?? CURRENT_NAMING;
}

/** One rendered file, its path relative to the output directory. */
export type RenderedFile = { path: string; content: string };

/** An environment variable whose value is a Podman secret (this app's or a dependency's). */
export type EnvSecret = { variable: string; app: string; secret: string; podmanSecret: string };

/**
 * An environment variable holding the name of a dependency's container, and the container's fixed
 * address when known (the dependent gets a hosts entry for it).
 */
export type EnvHost = {
  variable: string;
  app: string;
  container: string;
  containerName: string;
  address?: string;
};

/** A generated secret mounted as a file, readable only by the container's user. */
export type FileSecret = {
  secret: string;
  podmanSecret: string;
  target: string;
  uid: number;
  gid: number;
  mode: number;
};

export type Mount =
  | { kind: "volume"; volume: string; podmanVolume: string; path: string; readOnly: boolean }
  | { kind: "bind"; source: string; path: string; readOnly: boolean; permission: string };

export type Device = { host: string; path: string; permission: string };

/** A network the container joins; `address` is its fixed address there, if it has one. */
export type NetworkAttachment = { network: string; app: string; aliases: string[]; address?: string };

export type ResolvedPort = { container: number; host?: number; protocol: "tcp" | "udp"; bind: string };

export type ResolvedContainer = {
  key: string;
  name: string;
  image: string;
  entrypoint?: string[];
  command?: string[];
  workingDir?: string;
  user?: { uid: number; gid?: number };
  /** Literal values, and values exported by dependencies as literals; sorted by name. */
  env: Record<string, string>;
  envHosts: EnvHost[];
  envSecrets: EnvSecret[];
  fileSecrets: FileSecret[];
  ports: ResolvedPort[];
  mounts: Mount[];
  devices: Device[];
  capAdd: string[];
  readOnly: boolean;
  /** A tiny init runs as PID 1, the program under it. */
  init: boolean;
  /** Every tmpfs mount, declared or implied (see `effectiveTmpfs`). */
  tmpfs: string[];
  stopTimeoutSeconds: number;
  stopSignal?: { name: string; number: number };
  memoryBytes?: number;
  /** The app network first, then the networks of dependencies whose hosts this container uses. */
  networks: NetworkAttachment[];
  dependsOn: Array<{ key: string; name: string; condition: DependsCondition }>;
  /** True when another container of the app waits for this one to be healthy. */
  awaitedHealthy: boolean;
  health?: HealthSpec;
  dataUid?: number;
  /** A one-shot job: it runs to completion once per creation, the daemon decides when. */
  job: boolean;
};

export type ResolvedVolume = { volume: string; podmanVolume: string; hostPath: string; dataUid?: number };

export type ResolvedApp = {
  id: string;
  version: string;
  name: string;
  network: string;
  /** The app network's subnet, when it exists (or was chosen for it). */
  subnet?: string;
  volumes: ResolvedVolume[];
  /** In start order: every container after the ones it depends on. */
  containers: ResolvedContainer[];
  /**
   * The containers of the apps this one depends on (their names): when a node boots and its
   * service manager starts every app at once, they start first.
   */
  startsAfter: string[];
};

/** The mounts a read-only container gets, as Podman's `--read-only` (with `--read-only-tmpfs`) does. */
export const READ_ONLY_TMPFS = ["/run", "/tmp", "/var/tmp"];
/** Podman mounts its own `/run/secrets`; on a read-only root, file secrets inside it need a tmpfs. */
export const SECRETS_DIR = "/run/secrets";
/** Mode of secret files: readable by their owner only. */
export const SECRET_FILE_MODE = 0o400;

/** An error in the input of a renderer: the message names the app, the field and the fix. */
export class RenderError extends Error {
  override name = "RenderError";
}

/** Milliseconds to whole seconds, rounding up so that a timeout is never shortened. */
export function ceilSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(byCodeUnit);
}

function parseUser(user: string | undefined): { uid: number; gid?: number } | undefined {
  if (user === undefined) return undefined;
  const [uid, gid] = user.split(":");
  return gid === undefined ? { uid: Number(uid) } : { uid: Number(uid), gid: Number(gid) };
}

function isUnder(path: string, dir: string): boolean {
  return path.startsWith(`${dir}/`);
}

/** Declared tmpfs mounts plus the ones a read-only root needs to behave as on Podman's CLI. */
export function effectiveTmpfs(spec: ContainerSpec): string[] {
  const paths = new Set(spec.tmpfs);
  if (spec.read_only) {
    for (const path of READ_ONLY_TMPFS) paths.add(path);
    // Podman 4.3 bind-mounts its secrets directory read-only over a read-only root, so a file
    // secret inside it cannot be mounted ("read-only file system"); a tmpfs there fixes that.
    if (spec.secrets.some((s) => isUnder(s.target, SECRETS_DIR))) paths.add(SECRETS_DIR);
  }
  return sortedUnique(paths);
}

function signal(name: string | undefined, where: string): ResolvedContainer["stopSignal"] {
  if (name === undefined) return undefined;
  const number = SIGNALS[name];
  if (number === undefined)
    throw new RenderError(
      `${where}.stop_signal: unknown signal ${name}; use one of ${Object.keys(SIGNALS).join(", ")}`,
    );
  return { name, number };
}

function resolveContainer(
  manifest: Manifest,
  key: string,
  ctx: RenderContext,
  awaited: Set<string>,
): ResolvedContainer {
  const spec = manifest.containers[key] as ContainerSpec;
  const where = `${manifest.id}: containers.${key}`;
  const scheme = namingOf(ctx, manifest.id);
  const user = parseUser(spec.user);
  const env: Record<string, string> = {};
  const envHosts: EnvHost[] = [];
  const envSecrets: EnvSecret[] = [];
  const dependencyNetworks = new Set<string>();

  for (const variable of Object.keys(spec.environment).sort(byCodeUnit)) {
    const value = spec.environment[variable];
    if (typeof value !== "object") {
      env[variable] = String(value);
      continue;
    }
    if ("secret" in value) {
      if (!manifest.secrets[value.secret])
        throw new RenderError(
          `${where}.environment.${variable}: secret '${value.secret}' is not declared under secrets`,
        );
      envSecrets.push({
        variable,
        app: manifest.id,
        secret: value.secret,
        podmanSecret: secretName(manifest.id, value.secret, scheme),
      });
      continue;
    }
    const dependency = ctx.dependencies[value.app];
    if (!dependency)
      throw new RenderError(
        `${where}.environment.${variable} uses the export '${value.export}' of app '${value.app}', but the manifest of ` +
          `'${value.app}' was not given: pass it in the render context's dependencies (archy app render --with PATH)`,
      );
    const exported = dependency.exports[value.export];
    if (!exported)
      throw new RenderError(
        `${where}.environment.${variable}: app '${value.app}' has no export '${value.export}'` +
          ` (it exports: ${Object.keys(dependency.exports).sort(byCodeUnit).join(", ") || "nothing"})`,
      );
    if ("value" in exported) env[variable] = String(exported.value);
    else if ("secret" in exported)
      envSecrets.push({
        variable,
        app: dependency.id,
        secret: exported.secret,
        podmanSecret: secretName(dependency.id, exported.secret, namingOf(ctx, dependency.id)),
      });
    else {
      if (!dependency.containers[exported.host])
        throw new RenderError(
          `${where}.environment.${variable}: export '${value.export}' of '${value.app}' names container '${exported.host}', which that app does not have`,
        );
      envHosts.push({
        variable,
        app: dependency.id,
        container: exported.host,
        containerName: containerName(dependency, exported.host, namingOf(ctx, dependency.id)),
        address: fixedAddress(dependency, exported.host, ctx.subnets?.[dependency.id]),
      });
      dependencyNetworks.add(dependency.id);
    }
  }

  const name = containerName(manifest, key, scheme);
  const ownAliases = sortedUnique([...(key === name ? [] : [key]), ...spec.aliases]);
  const networks: NetworkAttachment[] = [
    {
      network: networkName(manifest.id),
      app: manifest.id,
      aliases: ownAliases,
      address: fixedAddress(manifest, key, ctx.subnets?.[manifest.id]),
    },
    ...[...dependencyNetworks]
      .sort(byCodeUnit)
      .map((app) => ({ network: networkName(app), app, aliases: [] as string[] })),
  ];

  const mounts: Mount[] = spec.volumes
    .map((volume): Mount => {
      if (volume.name !== undefined)
        return {
          kind: "volume",
          volume: volume.name,
          podmanVolume: volumeName(manifest.id, volume.name, scheme),
          path: volume.path,
          readOnly: volume.read_only,
        };
      if (volume.host_path === undefined || volume.permission === undefined)
        throw new RenderError(`${where}.volumes: a volume needs a name, or a host_path with its permission`);
      return {
        kind: "bind",
        source: volume.host_path,
        path: volume.path,
        readOnly: volume.read_only,
        permission: volume.permission,
      };
    })
    .sort((a, b) => byCodeUnit(a.path, b.path));

  const devices: Device[] = spec.devices
    .map((device) => {
      const permission = manifest.permissions[device.permission];
      if (permission?.kind !== "device")
        throw new RenderError(`${where}.devices: no device permission named '${device.permission}'`);
      return { host: permission.path, path: device.path ?? permission.path, permission: device.permission };
    })
    .sort((a, b) => byCodeUnit(a.path, b.path));

  const fileSecrets: FileSecret[] = spec.secrets
    .map((file) => {
      if (!manifest.secrets[file.secret])
        throw new RenderError(`${where}.secrets: secret '${file.secret}' is not declared under secrets`);
      return {
        secret: file.secret,
        podmanSecret: secretName(manifest.id, file.secret, scheme),
        target: file.target,
        uid: user?.uid ?? 0,
        gid: user?.gid ?? 0,
        mode: SECRET_FILE_MODE,
      };
    })
    .sort((a, b) => byCodeUnit(a.target, b.target));

  const ports = spec.ports
    .map(
      (p): ResolvedPort => ({
        container: p.container,
        host: p.host,
        protocol: p.protocol,
        bind: publishedBind(manifest, key, p),
      }),
    )
    .sort((a, b) => a.container - b.container || byCodeUnit(a.protocol, b.protocol));

  const dependsOn = Object.keys(spec.depends_on)
    .sort(byCodeUnit)
    .map((dep) => ({
      key: dep,
      name: containerName(manifest, dep, scheme),
      condition: spec.depends_on[dep] as DependsCondition,
    }));

  return {
    key,
    name,
    image: spec.image,
    entrypoint: spec.entrypoint,
    command: spec.command,
    workingDir: spec.working_dir,
    user,
    env,
    envHosts,
    envSecrets,
    fileSecrets,
    ports,
    mounts,
    devices,
    capAdd: sortedUnique(spec.capabilities.map((c) => c.toUpperCase().replace(/^CAP_/, ""))),
    readOnly: spec.read_only,
    init: spec.init,
    tmpfs: effectiveTmpfs(spec),
    stopTimeoutSeconds: ceilSeconds(spec.stop_timeout),
    stopSignal: signal(spec.stop_signal, where),
    memoryBytes: spec.memory,
    networks,
    dependsOn,
    awaitedHealthy: awaited.has(key),
    health: spec.health,
    dataUid: spec.data_uid,
    job: spec.job,
  };
}

/** Resolves a manifest for rendering; throws a `RenderError` naming the field when it cannot. */
export function resolveApp(manifest: Manifest, ctx: RenderContext): ResolvedApp {
  const awaited = new Set<string>();
  for (const spec of Object.values(manifest.containers))
    for (const [dep, condition] of Object.entries(spec.depends_on))
      if (condition === "healthy") awaited.add(dep);
  for (const key of awaited)
    if (!manifest.containers[key]?.health)
      throw new RenderError(
        `${manifest.id}: a container waits for '${key}' to be healthy, but it has no health check`,
      );

  const containers = startOrder(manifest).map((key) => resolveContainer(manifest, key, ctx, awaited));

  const volumes = new Map<string, ResolvedVolume>();
  for (const container of containers)
    for (const mount of container.mounts) {
      if (mount.kind !== "volume" || volumes.has(mount.volume)) continue;
      volumes.set(mount.volume, {
        volume: mount.volume,
        podmanVolume: mount.podmanVolume,
        hostPath: volumeHostPath(ctx.dataRoot, manifest.id, mount.volume),
        dataUid: container.dataUid,
      });
    }

  return {
    id: manifest.id,
    version: manifest.version,
    name: manifest.name,
    network: networkName(manifest.id),
    subnet: ctx.subnets?.[manifest.id],
    volumes: [...volumes.values()].sort((a, b) => byCodeUnit(a.volume, b.volume)),
    containers,
    startsAfter: manifest.dependencies.flatMap(({ id }) => {
      const dependency = ctx.dependencies[id];
      return dependency
        ? startOrder(dependency).map((key) => containerName(dependency, key, namingOf(ctx, id)))
        : [];
    }),
  };
}
