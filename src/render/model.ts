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
import { consumedApps, consumerName, pairSecretFile, RESERVED_NAME } from "../manifest/consumers.ts";
import { envFileDigest, parseEnvFile, type StoredEnvFile } from "../manifest/env-file.ts";
import { parseTemplate, type TemplatePart, templateSource } from "../manifest/interpolation.ts";
import {
  CURRENT_NAMING,
  containerName,
  type NamingScheme,
  networkName,
  renderedSecretName,
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
  /**
   * The app's env_files as stored at its install (or as read from its directory, for a render
   * from files), by their path in the manifest; each is checked against its digest before use.
   */
  envFiles?: Record<string, StoredEnvFile>;
};

/** The texts of the app's stored env_files in a render context. */
export function storedEnvFileTexts(ctx: Pick<RenderContext, "envFiles">): string[] {
  return Object.values(ctx.envFiles ?? {}).map((file) => file.text);
}

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

/** A part of a rendered environment value: text, a dependency's container name, or a secret. */
export type TemplatePiece =
  | { kind: "text"; text: string }
  | ({ kind: "host" } & Omit<EnvHost, "variable">)
  | ({ kind: "secret" } & Omit<EnvSecret, "variable">);

/**
 * An environment value with `${…}` references that the platform renders (interpolation.ts), where
 * a reference is a dependency's host or a secret; references to the app's own facts and to literal
 * exports are resolved into the text. With a secret among its pieces, the daemon renders the value
 * into a Podman secret of its own, `podmanSecret`, so that no value is part of a spec or a unit.
 */
export type EnvTemplate = {
  variable: string;
  /** The value as written (references, never values): what renders show for it. */
  source: string;
  pieces: TemplatePiece[];
  /** Set when a piece is a secret. */
  podmanSecret?: string;
};

/** The text of a template without secrets, a host written as `hostText` gives it. */
export function templateText(t: EnvTemplate, hostText: (h: Omit<EnvHost, "variable">) => string): string {
  return t.pieces
    .map((p) => {
      if (p.kind === "secret")
        throw new RenderError(`${t.variable}: a value with a secret is never rendered`);
      return p.kind === "text" ? p.text : hostText(p);
    })
    .join("");
}

/**
 * The value the daemon stores in a template's Podman secret: hosts by container name, secrets by
 * their values (`secretValue`, the daemon's secret files). Never rendered anywhere else.
 */
export function renderTemplateValue(
  t: EnvTemplate,
  secretValue: (app: string, secret: string) => string,
): string {
  return t.pieces
    .map((p) =>
      p.kind === "text" ? p.text : p.kind === "host" ? p.containerName : secretValue(p.app, p.secret),
    )
    .join("");
}

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
  /** Values with `${…}` references to hosts or secrets; sorted by variable. */
  envTemplates: EnvTemplate[];
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
  /** The size of /dev/shm, when the manifest gives one. */
  shmBytes?: number;
  /** Resource limits (setrlimit), sorted by name. */
  ulimits: Array<{ name: string; soft: number; hard: number }>;
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
  /**
   * The dependencies whose consumer values the app uses (`${consumer:APP/…}`), sorted: each gives
   * it an account of its own, provisioned before its containers are created.
   */
  consumes: string[];
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

function withoutKind<T extends { kind: string }>(piece: T): Omit<T, "kind"> {
  const { kind: _, ...rest } = piece;
  return rest;
}

/** Adjacent text pieces as one (a literal export beside text). */
function mergeText(pieces: TemplatePiece[]): TemplatePiece[] {
  const out: TemplatePiece[] = [];
  for (const piece of pieces) {
    const last = out.at(-1);
    if (piece.kind === "text" && last?.kind === "text") last.text += piece.text;
    else out.push(piece.kind === "text" ? { ...piece } : piece);
  }
  return out;
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

/**
 * The variables a container's env_files set, later files over earlier ones: each file as stored,
 * refused unless it still has the digest it was stored with.
 */
function envFileValues(spec: ContainerSpec, ctx: RenderContext, where: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const path of spec.env_file ?? []) {
    const stored = ctx.envFiles?.[path];
    if (!stored)
      throw new RenderError(
        `${where}.env_file: ${path} is not stored with the app: install or update it again from its directory`,
      );
    if (envFileDigest(stored.text) !== stored.sha256)
      throw new RenderError(
        `${where}.env_file: the stored ${path} does not match its digest (changed since the install): install or update the app again from its directory`,
      );
    const { entries, problems } = parseEnvFile(stored.text);
    const first = problems[0];
    if (first)
      throw new RenderError(`${where}.env_file: ${path}:${first.line}: ${first.message}; ${first.fix}`);
    for (const entry of entries) values[entry.name] = entry.value;
  }
  return values;
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

  const envTemplates: EnvTemplate[] = [];
  const dependencyNetworks = new Set<string>();

  const ownSecret = (variable: string, secret: string): Omit<EnvSecret, "variable"> => {
    if (!manifest.secrets[secret])
      throw new RenderError(
        `${where}.environment.${variable}: secret '${secret}' is not declared under secrets`,
      );
    return { app: manifest.id, secret, podmanSecret: secretName(manifest.id, secret, scheme) };
  };
  /** What a dependency's export is: literal text, a secret of the dependency, or one of its containers. */
  const exportOf = (variable: string, app: string, name: string): TemplatePiece => {
    const dependency = ctx.dependencies[app];
    if (!dependency)
      throw new RenderError(
        `${where}.environment.${variable} uses the export '${name}' of app '${app}', but the manifest of ` +
          `'${app}' was not given: pass it in the render context's dependencies (archy app render --with PATH)`,
      );
    const exported = dependency.exports[name];
    if (!exported)
      throw new RenderError(
        `${where}.environment.${variable}: app '${app}' has no export '${name}'` +
          ` (it exports: ${Object.keys(dependency.exports).sort(byCodeUnit).join(", ") || "nothing"})`,
      );
    if ("value" in exported) return { kind: "text", text: String(exported.value) };
    if ("secret" in exported)
      return {
        kind: "secret",
        app: dependency.id,
        secret: exported.secret,
        podmanSecret: secretName(dependency.id, exported.secret, namingOf(ctx, dependency.id)),
      };
    if (!dependency.containers[exported.host])
      throw new RenderError(
        `${where}.environment.${variable}: export '${name}' of '${app}' names container '${exported.host}', which that app does not have`,
      );
    dependencyNetworks.add(dependency.id);
    return {
      kind: "host",
      app: dependency.id,
      container: exported.host,
      containerName: containerName(dependency, exported.host, namingOf(ctx, dependency.id)),
      address: fixedAddress(dependency, exported.host, ctx.subnets?.[dependency.id]),
    };
  };
  /**
   * A value the app gets as a consumer of a dependency: its name, text; a generated value, a secret
   * of the app's own (its pair file, pairSecretFile), in a Podman secret of its own (for a file) or
   * inside a rendered value's.
   */
  const consumerOf = (field: string, app: string, value: string): TemplatePiece => {
    const dependency = ctx.dependencies[app];
    if (!dependency)
      throw new RenderError(
        `${where}.${field} uses the consumer value '${value}' of app '${app}', but the manifest of ` +
          `'${app}' was not given: pass it in the render context's dependencies (archy app render --with PATH)`,
      );
    const secrets = Object.keys(dependency.consumers?.secrets ?? {}).sort(byCodeUnit);
    if (!dependency.consumers || (value !== RESERVED_NAME && !secrets.includes(value)))
      throw new RenderError(
        `${where}.${field}: app '${app}' ${dependency.consumers ? `has no consumer value '${value}' (it gives: ${[RESERVED_NAME, ...secrets].join(", ")})` : "declares no `consumers`"}`,
      );
    if (value === RESERVED_NAME) return { kind: "text", text: consumerName(manifest.id) };
    const file = pairSecretFile(app, value);
    return {
      kind: "secret",
      app: manifest.id,
      secret: file,
      podmanSecret: secretName(manifest.id, file, scheme),
    };
  };
  const pieceOf = (variable: string, part: TemplatePart): TemplatePiece => {
    switch (part.kind) {
      case "text":
        return part;
      case "app":
        return { kind: "text", text: part.field === "id" ? manifest.id : manifest.version };
      case "secret":
        return { kind: "secret", ...ownSecret(variable, part.secret) };
      case "export":
        return exportOf(variable, part.app, part.export);
      case "consumer":
        return consumerOf(`environment.${variable}`, part.app, part.value);
    }
  };

  const environment = { ...envFileValues(spec, ctx, where), ...spec.environment };
  for (const variable of Object.keys(environment).sort(byCodeUnit)) {
    const value = environment[variable];
    if (typeof value === "object") {
      const piece =
        "secret" in value
          ? { kind: "secret" as const, ...ownSecret(variable, value.secret) }
          : exportOf(variable, value.app, value.export);
      if (piece.kind === "text") env[variable] = piece.text;
      else if (piece.kind === "secret") envSecrets.push({ variable, ...withoutKind(piece) });
      else envHosts.push({ variable, ...withoutKind(piece) });
      continue;
    }
    if (typeof value !== "string") {
      env[variable] = String(value);
      continue;
    }
    const parts = parseTemplate(value);
    if ("message" in parts) {
      // Refused at validation (interp.syntax), so only an app installed before references existed
      // has it: it keeps the literal value its containers were made with.
      env[variable] = value;
      continue;
    }
    const pieces = mergeText(parts.map((part) => pieceOf(variable, part)));
    if (pieces.every((p) => p.kind === "text")) {
      env[variable] = pieces.map((p) => (p.kind === "text" ? p.text : "")).join("");
      continue;
    }
    const resolved = JSON.stringify(
      pieces.map((p) =>
        p.kind === "text"
          ? p.text
          : p.kind === "host"
            ? { host: p.containerName }
            : { secret: p.podmanSecret },
      ),
    );
    envTemplates.push({
      variable,
      source: templateSource(parts),
      pieces,
      podmanSecret: pieces.some((p) => p.kind === "secret")
        ? renderedSecretName(manifest.id, key, variable, resolved)
        : undefined,
    });
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
      const secret = "secret" in file ? file.secret : pairSecretFile(file.app, file.consumer);
      if ("secret" in file && !manifest.secrets[file.secret])
        throw new RenderError(`${where}.secrets: secret '${file.secret}' is not declared under secrets`);
      if ("consumer" in file) {
        const piece = consumerOf("secrets", file.app, file.consumer);
        if (piece.kind !== "secret")
          throw new RenderError(
            `${where}.secrets: the consumer value '${file.consumer}' of '${file.app}' is not a secret: use it in environment`,
          );
      }
      return {
        secret,
        // A consumer value has no Podman secret of its own: the daemon stores it for this file,
        // under its app's prefix of rendered values (renderedSecretName), removed at purge.
        podmanSecret:
          "secret" in file
            ? secretName(manifest.id, secret, scheme)
            : renderedSecretName(manifest.id, key, file.target, secret),
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
    envTemplates,
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
    shmBytes: spec.shm_size,
    ulimits: Object.entries(spec.ulimits)
      .flatMap(([name, limit]) => (limit ? [{ name, ...limit }] : []))
      .sort((a, b) => byCodeUnit(a.name, b.name)),
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
    consumes: consumedApps(manifest, storedEnvFileTexts(ctx)),
  };
}
