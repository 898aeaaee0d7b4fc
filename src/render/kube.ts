/**
 * Kubernetes objects for an app, as one multi-document YAML file: a Deployment (one replica,
 * `Recreate`, every container of the app in one pod), a Service, a PersistentVolumeClaim per app
 * volume and, only when the caller passes secret values explicitly (the CLI never does), a Secret.
 * The same file runs on k3s/Kubernetes and with `podman kube play` on a single node.
 *
 * What Kubernetes cannot express is never dropped silently: `renderKubeWithWarnings` returns a
 * warning per such manifest field (for the CLI to print), and the file carries the same warnings in
 * its header and in the Deployment's `io.archipelago.kube-warnings` annotation.
 *
 * Choices, and what Podman 4.3's `kube play` made necessary (all still valid Kubernetes):
 * - The stack's containers share the pod's network namespace, so their keys, aliases and names are
 *   mapped to 127.0.0.1 with `hostAliases`; a dependency's `host` export becomes its Service name.
 * - The Service lists the ports meant to be reached from outside the app: published ports (the ones
 *   with a host port) and every port of a container exported as a `host` (dependents reach those).
 *   A private port of any other container stays out of it, as it stays off the host under Podman;
 *   Kubernetes does not isolate pods, though (any pod can connect to the pod's address), so each
 *   private port is a warning. Containers list only their published ports, as `hostPort`s: Podman
 *   4.3's `kube play` publishes every listed container port on the host, hostPort or not.
 * - PVCs carry `volume.podman.io/*` annotations so that `kube play` binds them to the same data
 *   directory the other backends use; Kubernetes ignores them.
 * - Secret values are never rendered: env secrets are `secretKeyRef`s and file secrets `secret`
 *   volumes of the app's Secret (`<app>-secrets`). The header says which Secrets and keys must exist
 *   and gives the commands that create them (fresh random values of the declared alphabet and
 *   length, or the node's own files to keep an installed app's values). Secret volumes say
 *   `optional: false`: Podman 4.3 dereferences a missing `optional` and crashes. They are mounted on
 *   the target's directory with `items` (4.3 ignores `subPath`), so a file secret's file name
 *   should be its secret's name.
 * - tmpfs mounts are `emptyDir: {medium: Memory}` volumes with names unique to the app, because 4.3
 *   turns each into a named Podman volume of that name (shared by every pod using the name).
 * - Health checks are exec probes running the very command the daemon runs on the other backends
 *   (`probeCommand`): an http check expects its exact status (an `httpGet` probe would accept any
 *   200-399) and a tcp check means a listening socket, loopback included (a `tcpSocket` probe
 *   connects to the pod's address).
 * - `stop_signal` has no Kubernetes field (only an alpha one from 1.33): a preStop hook sends it to
 *   PID 1 and waits, as a stop does under Podman. It needs `/bin/sh` in the image (without it
 *   Kubernetes sends the image's STOPSIGNAL) and `podman kube play` ignores it: a warning says so.
 * - `depends_on` has no equivalent for the containers of one pod (native sidecars would order them,
 *   but `podman kube play` would then wait for them to exit): the containers are listed in start
 *   order, which the kubelet follows without waiting, and a warning says the app must wait itself.
 *   A `job` is an init container, which is what waiting for it to complete means there; it runs
 *   again at every start of the pod, which a warning says.
 */

import { join } from "node:path";
import YAML from "yaml";
import { consumerName, pairSecrets } from "../manifest/consumers.ts";
import {
  appDnsLabel,
  dnsLabel,
  hash8,
  LABEL_PREFIX,
  LABELS,
  MAX_DNS_LABEL,
  OWNER,
  PLATFORM_PREFIX,
} from "../manifest/naming.ts";
import type { HealthSpec, HookName, Manifest } from "../manifest/schema.ts";
import { exportedHosts } from "./addresses.ts";
import { byCodeUnit, canonicalize } from "./canonical.ts";
import { probeCommand, shQuote } from "./health.ts";
import {
  ceilSeconds,
  type EnvTemplate,
  type RenderContext,
  RenderError,
  type RenderedFile,
  type ResolvedApp,
  type ResolvedContainer,
  resolveApp,
} from "./model.ts";

export type KubeOptions = {
  /** Values of the app's generated secrets: only then is a Secret document rendered. */
  secretValues?: Record<string, string>;
};

/**
 * A manifest field whose meaning the Kubernetes objects do not keep as the Podman backends do (or
 * keep only with conditions), and what the user must do about it.
 */
export type KubeWarning = {
  /** The field, as a path in the manifest: `containers.worker.stop_signal`. */
  field: string;
  /** What differs under Kubernetes and what to do, in one sentence or two. */
  message: string;
};

/** The rendered file, and the warnings the CLI prints (the file carries them too). */
export type KubeRender = { files: RenderedFile[]; warnings: KubeWarning[] };

/** The Deployment annotation that lists the warnings, one `field: message` per line. */
export const KUBE_WARNINGS_ANNOTATION = `${LABEL_PREFIX}.kube-warnings`;

type Doc = Record<string, unknown>;

const MAX_NAME = MAX_DNS_LABEL;
const APP_NAME_LABEL = "app.kubernetes.io/name";
/** Width of the header's prose lines. */
const COMMENT_WIDTH = 100;
/** A generated secret's alphabet as a `tr` set, as src/orchestrator/secrets.ts draws from it. */
const TR_SETS = { alphanumeric: "A-Za-z0-9", hex: "0-9a-f", base64url: "A-Za-z0-9_-" } as const;

/** A DNS subdomain (dot-separated DNS labels, as most object names are): `text` if it is one, else a label. */
function dnsSubdomain(text: string): string {
  const labels = text.split(".");
  return labels.every((label) => label.length <= MAX_NAME && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(label))
    ? text
    : dnsLabel(text);
}

/**
 * A container's name as a host name of the pod (lower case: /etc/hosts lookups ignore case), or
 * undefined when it cannot be one (a `_`, say): Kubernetes takes only DNS subdomains there.
 */
function podHostname(name: string): string | undefined {
  const lower = name.toLowerCase();
  return dnsSubdomain(lower) === lower ? lower : undefined;
}

/** A label value (at most 63 characters): `text`, shortened with a hash suffix when longer. */
function labelValue(text: string): string {
  return text.length <= MAX_NAME ? text : dnsLabel(text);
}

/**
 * The name of the app's Deployment and Service: its id as a DNS label, a namespaced id's dot made
 * `--`, which no id contains (`alice.relay` → `alice--relay`, never `alice-relay`'s name).
 */
export function kubeName(appId: string): string {
  return appDnsLabel(appId);
}

/**
 * The name of an app volume's PersistentVolumeClaim: `archy-<app>.<volume>` (a DNS subdomain; a
 * volume name has no dot, so the last one ends the id). `podman kube play` makes it a Podman volume.
 */
export function kubeVolumeName(appId: string, volume: string): string {
  return `${PLATFORM_PREFIX}${appId}.${volume}`;
}

/** The name of the app's Secret, whose keys are the app's generated secrets. */
export function kubeSecretName(appId: string): string {
  return `${kubeName(appId)}-secrets`;
}

/** A memory size as a Kubernetes quantity, exact (binary suffixes only when they divide evenly). */
export function quantity(bytes: number): string {
  for (const [suffix, size] of [
    ["Gi", 1024 ** 3],
    ["Mi", 1024 ** 2],
    ["Ki", 1024],
  ] as const)
    if (bytes % size === 0) return `${bytes / size}${suffix}`;
  return String(bytes);
}

function labels(app: ResolvedApp): Record<string, string> {
  return { [APP_NAME_LABEL]: kubeName(app.id), [LABELS.owner]: OWNER, [LABELS.app]: labelValue(app.id) };
}

function metadata(app: ResolvedApp, name: string, extra: Doc = {}): Doc {
  return { name, labels: labels(app), ...extra };
}

/**
 * A probe running the health check's own command, as the daemon does on the other backends: the
 * same status test for http (Kubernetes' `httpGet` takes any 200-399), the same listening-socket
 * test for tcp.
 */
function probe(health: HealthSpec): Doc {
  return {
    exec: { command: probeCommand(health) },
    initialDelaySeconds: ceilSeconds(health.start_period),
    periodSeconds: Math.max(1, ceilSeconds(health.interval)),
    timeoutSeconds: Math.max(1, ceilSeconds(health.timeout)),
    failureThreshold: health.retries,
  };
}

/**
 * The preStop command that stands in for a stop signal: it signals PID 1, as Podman's stop does,
 * then waits for it to exit (the hook dies with the container), so that Kubernetes' own stop
 * signal comes only if the grace period runs out first. `kill -0` and `kill -N` are shell
 * built-ins; without `sleep` the hook returns and Kubernetes goes on with its stop.
 */
export function stopSignalHook(signal: NonNullable<ResolvedContainer["stopSignal"]>): string[] {
  return [
    "/bin/sh",
    "-c",
    `kill -${signal.number} 1 && while kill -0 1 2>/dev/null; do sleep 1 || break; done`,
  ];
}

type PodVolume = { name: string; source: Doc };

/**
 * A container's file secrets by directory. Each directory is a secret volume mounted there, except
 * the root and a directory another mount of the container takes (a volume, a host path, a device):
 * there each file is mounted by itself (`subPath`), as Kubernetes takes each mount path once.
 */
function secretDirectories(
  c: ResolvedContainer,
): Map<string, { secrets: ResolvedContainer["fileSecrets"]; fileByFile: boolean }> {
  const taken = new Set([...c.mounts.map((m) => m.path), ...c.devices.map((d) => d.path)]);
  const dirs = new Map<string, { secrets: ResolvedContainer["fileSecrets"]; fileByFile: boolean }>();
  for (const s of c.fileSecrets) {
    const dir = s.target.slice(0, s.target.lastIndexOf("/")) || "/";
    const found = dirs.get(dir) ?? { secrets: [], fileByFile: dir === "/" || taken.has(dir) };
    found.secrets.push(s);
    dirs.set(dir, found);
  }
  return dirs;
}

/** The variable that carries a secret into values composed from it (see kubeTemplateValue). */
function templateSecretVariable(s: { app: string; secret: string }): string {
  return `ARCHY_SECRET_${`${s.app}_${s.secret}`.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

function templateSecretVariables(c: ResolvedContainer): Doc[] {
  const byName = new Map<string, Doc>();
  for (const t of c.envTemplates)
    for (const p of t.pieces)
      if (p.kind === "secret")
        byName.set(templateSecretVariable(p), {
          name: templateSecretVariable(p),
          valueFrom: { secretKeyRef: { name: kubeSecretName(p.app), key: p.secret } },
        });
  return [...byName.values()].sort((a, b) => byCodeUnit(a.name as string, b.name as string));
}

/**
 * An interpolated value in Kubernetes' terms: a host is the dependency's Service, a secret the
 * `$(NAME)` of the variable that carries it; a literal `$(` is escaped as `$$(`.
 */
function kubeTemplateValue(t: EnvTemplate): string {
  return t.pieces
    .map((p) =>
      p.kind === "text"
        ? p.text.replaceAll("$(", () => "$$(")
        : p.kind === "host"
          ? kubeName(p.app)
          : `$(${templateSecretVariable(p)})`,
    )
    .join("");
}

function containerDoc(app: ResolvedApp, c: ResolvedContainer, volumes: PodVolume[]): Doc {
  const env: Doc[] = [
    ...Object.keys(c.env).map((name) => ({ name, value: c.env[name] })),
    ...c.envHosts.map((h) => ({ name: h.variable, value: kubeName(h.app) })),
    ...c.envSecrets.map((s) => ({
      name: s.variable,
      valueFrom: { secretKeyRef: { name: kubeSecretName(s.app), key: s.secret } },
    })),
    ...c.envTemplates.map((t) => ({ name: t.variable, value: kubeTemplateValue(t) })),
  ].sort((a, b) => byCodeUnit(a.name as string, b.name as string));
  // Kubernetes composes a value with a secret in it from variables defined before it, `$(NAME)`:
  // each secret such a value uses is one such variable, listed first.
  env.unshift(...templateSecretVariables(c));

  const mounts: Doc[] = [];
  const addVolume = (name: string, source: Doc) => {
    if (!volumes.some((v) => v.name === name)) volumes.push({ name, source });
  };
  let index = 0;
  for (const m of c.mounts) {
    if (m.kind === "volume") {
      const name = dnsLabel(`data-${m.volume}`);
      addVolume(name, { persistentVolumeClaim: { claimName: kubeVolumeName(app.id, m.volume) } });
      mounts.push({ name, mountPath: m.path, readOnly: m.readOnly || undefined });
    } else {
      const name = dnsLabel(`host-${c.key}-${index++}`);
      addVolume(name, { hostPath: { path: m.source, type: "Directory" } });
      mounts.push({ name, mountPath: m.path, readOnly: m.readOnly || undefined });
    }
  }
  for (const [i, d] of c.devices.entries()) {
    const name = dnsLabel(`dev-${c.key}-${i}`);
    addVolume(name, { hostPath: { path: d.host, type: "CharDevice" } });
    mounts.push({ name, mountPath: d.path });
  }
  if (c.shmBytes !== undefined) {
    // A pod's /dev/shm is the runtime's 64m; a memory-backed emptyDir there is the usual larger one.
    const name = `shm-${hash8(`${app.id}/${c.key}`)}`;
    addVolume(name, { emptyDir: { medium: "Memory", sizeLimit: quantity(c.shmBytes) } });
    mounts.push({ name, mountPath: "/dev/shm" });
  }
  const secretDirs = secretDirectories(c);
  for (const path of c.tmpfs) {
    // The model's tmpfs on a secrets directory is for Podman's own secret mounts; here the secret
    // volume itself is mounted there.
    if (secretDirs.has(path)) continue;
    const name = `tmpfs-${hash8(`${app.id}/${c.key}/${path}`)}`;
    addVolume(name, { emptyDir: { medium: "Memory" } });
    mounts.push({ name, mountPath: path });
  }
  for (const [dir, { secrets, fileByFile }] of [...secretDirs].sort(([a], [b]) => byCodeUnit(a, b))) {
    const name = `secrets-${hash8(`${app.id}/${c.key}/${dir}`)}`;
    const items = secrets.map((s) => ({
      key: s.secret,
      path: s.target.slice(dir === "/" ? 1 : dir.length + 1),
      // Kubernetes cannot give a volume's files an owner: a container that is not root gets
      // a file it can read instead of one only root could.
      mode: c.user === undefined || c.user.uid === 0 ? s.mode : 0o444,
    }));
    addVolume(name, { secret: { secretName: kubeSecretName(app.id), optional: false, items } });
    if (fileByFile)
      for (const [i, item] of items.entries())
        mounts.push({ name, mountPath: secrets[i]?.target, subPath: item.path, readOnly: true });
    else mounts.push({ name, mountPath: dir, readOnly: true });
  }
  mounts.sort((a, b) => byCodeUnit(a.mountPath as string, b.mountPath as string));

  // Only published ports are listed: Podman 4.3's `kube play` publishes every listed containerPort
  // on the host (0.0.0.0, same number) even without a hostPort, which would expose private ports.
  // Kubernetes needs no list to reach a port (the Service targets it by number).
  const ports = c.ports
    .filter((p) => p.host !== undefined)
    .map((p) => ({
      containerPort: p.container,
      protocol: p.protocol.toUpperCase(),
      hostPort: p.host,
      hostIP: p.bind !== "0.0.0.0" ? p.bind : undefined,
    }));

  return {
    name: c.key,
    image: c.image,
    command: c.entrypoint,
    args: c.command,
    workingDir: c.workingDir,
    env: env.length > 0 ? env : undefined,
    ports: ports.length > 0 ? ports : undefined,
    volumeMounts: mounts.length > 0 ? mounts : undefined,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"], add: c.capAdd.length > 0 ? c.capAdd : undefined },
      readOnlyRootFilesystem: c.readOnly,
      runAsUser: c.user?.uid,
      runAsGroup: c.user?.gid,
    },
    resources: c.memoryBytes === undefined ? undefined : { limits: { memory: quantity(c.memoryBytes) } },
    livenessProbe: c.health && probe(c.health),
    readinessProbe: c.health && probe(c.health),
    lifecycle: c.stopSignal && { preStop: { exec: { command: stopSignalHook(c.stopSignal) } } },
  };
}

function deployment(app: ResolvedApp, warnings: KubeWarning[]): Doc {
  const volumes: PodVolume[] = [];
  // Jobs are init containers: each runs to completion, in order, before the others start.
  const initContainers = app.containers.filter((c) => c.job).map((c) => containerDoc(app, c, volumes));
  const containers = app.containers.filter((c) => !c.job).map((c) => containerDoc(app, c, volumes));
  const hostnames = new Set<string>();
  for (const c of app.containers)
    for (const hostname of [c.key, c.name, ...(c.networks[0]?.aliases ?? [])].map(podHostname))
      if (hostname !== undefined) hostnames.add(hostname);
  hostnames.delete("localhost");
  const name = kubeName(app.id);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(app, name, {
      annotations: {
        [LABELS.version]: app.version,
        [KUBE_WARNINGS_ANNOTATION]:
          warnings.length > 0 ? warnings.map((w) => `${w.field}: ${w.message}`).join("\n") : undefined,
      },
    }),
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: { matchLabels: { [APP_NAME_LABEL]: name } },
      template: {
        metadata: { labels: labels(app), annotations: { [LABELS.version]: app.version } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: Math.max(...app.containers.map((c) => c.stopTimeoutSeconds)),
          hostAliases: [{ ip: "127.0.0.1", hostnames: [...hostnames].sort(byCodeUnit) }],
          initContainers: initContainers.length > 0 ? initContainers : undefined,
          containers,
          volumes:
            volumes.length > 0
              ? volumes.sort((a, b) => byCodeUnit(a.name, b.name)).map((v) => ({ name: v.name, ...v.source }))
              : undefined,
        },
      },
    },
  };
}

/**
 * The ports other apps and clients are meant to reach: published ones, and every port of a container
 * a dependent reaches through a `host` export. Private ports of other containers stay in the pod.
 */
function servicePorts(manifest: Manifest, c: ResolvedContainer): ResolvedContainer["ports"] {
  const exported = exportedHosts(manifest).includes(c.key);
  return c.ports.filter((p) => exported || p.host !== undefined);
}

function service(manifest: Manifest, app: ResolvedApp): Doc | undefined {
  // Two containers listening on one port are one port of the pod (see sharedPorts).
  const unique = new Map(
    app.containers.flatMap((c) => servicePorts(manifest, c)).map((p) => [`${p.protocol}-${p.container}`, p]),
  );
  const ports = [...unique.values()]
    .sort((a, b) => a.container - b.container || byCodeUnit(a.protocol, b.protocol))
    .map((p) => ({
      name: `${p.protocol}-${p.container}`,
      port: p.container,
      targetPort: p.container,
      protocol: p.protocol.toUpperCase(),
    }));
  if (ports.length === 0) return undefined;
  const name = kubeName(app.id);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(app, name),
    spec: { type: "ClusterIP", selector: { [APP_NAME_LABEL]: name }, ports },
  };
}

function claims(app: ResolvedApp): Doc[] {
  return app.volumes.map((v) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: metadata(app, kubeVolumeName(app.id, v.volume), {
      annotations: {
        "volume.podman.io/device": v.hostPath,
        "volume.podman.io/type": "none",
        "volume.podman.io/mount-options": "bind",
        ...(v.dataUid === undefined
          ? {}
          : { "volume.podman.io/uid": String(v.dataUid), "volume.podman.io/gid": String(v.dataUid) }),
      },
    }),
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  }));
}

/**
 * The keys of the app's own Secret, with each one's alphabet and length: its declared secrets, and
 * the values it holds as a consumer of its dependencies (consumers.ts).
 */
function ownSecretSpecs(
  manifest: Manifest,
  app: ResolvedApp,
  ctx: RenderContext,
): Record<string, Manifest["secrets"][string]> {
  const pairs = Object.entries(pairSecrets(app.consumes, ctx.dependencies));
  return { ...manifest.secrets, ...Object.fromEntries(pairs.map(([key, pair]) => [key, pair.spec])) };
}

function secret(
  manifest: Manifest,
  app: ResolvedApp,
  ctx: RenderContext,
  values: Record<string, string>,
): Doc {
  const declared = Object.keys(ownSecretSpecs(manifest, app, ctx)).sort(byCodeUnit);
  const unknown = Object.keys(values).filter((k) => !declared.includes(k));
  if (unknown.length > 0)
    throw new RenderError(`${app.id}: secret values given for undeclared secrets: ${unknown.join(", ")}`);
  const missing = declared.filter((k) => values[k] === undefined);
  if (missing.length > 0)
    throw new RenderError(`${app.id}: no value given for secrets: ${missing.join(", ")}`);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: metadata(app, kubeSecretName(app.id)),
    type: "Opaque",
    stringData: Object.fromEntries(declared.map((k) => [k, values[k]])),
  };
}

/** A Secret the pod reads and this file does not hold: the app's own, or a dependency's. */
type NeededSecret = {
  name: string;
  app: string;
  own: boolean;
  keys: string[];
  /** The manifest fields that read a dependency's Secret. */
  readers: string[];
};

/**
 * The Secrets to create before applying: the app's own (every declared secret: dependents read
 * exported ones from it too) unless its values were given, and each dependency's the app reads.
 */
function neededSecrets(
  manifest: Manifest,
  app: ResolvedApp,
  ctx: RenderContext,
  options: KubeOptions,
): NeededSecret[] {
  const needed: NeededSecret[] = [];
  const declared = Object.keys(ownSecretSpecs(manifest, app, ctx)).sort(byCodeUnit);
  if (declared.length > 0 && !options.secretValues)
    needed.push({
      name: kubeSecretName(app.id),
      app: app.id,
      own: true,
      keys: declared,
      readers: [],
    });
  const byApp = new Map<string, NeededSecret>();
  for (const c of app.containers)
    for (const s of [
      ...c.envSecrets,
      ...c.envTemplates.flatMap((t) =>
        t.pieces.flatMap((p) => (p.kind === "secret" ? [{ ...p, variable: t.variable }] : [])),
      ),
    ]) {
      if (s.app === app.id) continue;
      const found = byApp.get(s.app) ?? {
        name: kubeSecretName(s.app),
        app: s.app,
        own: false,
        keys: [],
        readers: [],
      };
      byApp.set(s.app, found);
      if (!found.keys.includes(s.secret)) found.keys.push(s.secret);
      found.readers.push(`containers.${c.key}.environment.${s.variable}`);
    }
  for (const dependency of [...byApp.values()].sort((a, b) => byCodeUnit(a.name, b.name))) {
    dependency.keys.sort(byCodeUnit);
    needed.push(dependency);
  }
  return needed;
}

function keyList(secret: NeededSecret): string {
  return `${secret.keys.length === 1 ? "key" : "keys"} ${secret.keys.join(", ")}`;
}

/** Everything Kubernetes does not keep as the Podman backends do, field by field. */
function kubeWarnings(manifest: Manifest, app: ResolvedApp, needed: NeededSecret[]): KubeWarning[] {
  const file = `${kubeName(app.id)}.yaml`;
  const warnings: KubeWarning[] = [];
  for (const s of needed)
    warnings.push(
      s.own
        ? {
            field: "secrets",
            message:
              `the Secret ${s.name} (${keyList(s)}) is not rendered, as secret values never are: create it before ` +
              `applying, with new random values or the values the app has on its node (the commands are at the top of ${file}).`,
          }
        : {
            field: s.readers.join(", "),
            message:
              `reads the Secret ${s.name} (${keyList(s)}) of dependency ${s.app}, which this file does not hold: ` +
              `create it with ${s.app} (its render says how), in the same namespace, before applying.`,
          },
    );
  const listening = new Map<string, string>();
  for (const c of app.containers) {
    const shared = c.ports.flatMap((p) => {
      const port = `${p.container}/${p.protocol}`;
      const first = listening.get(port);
      if (first === undefined) listening.set(port, c.key);
      return first === undefined ? [] : [`${port} (as ${first} does)`];
    });
    if (shared.length > 0)
      warnings.push({
        field: `containers.${c.key}.ports`,
        message:
          `${c.key} listens on ${shared.join(", ")}, and the containers of a Kubernetes pod share one network ` +
          "namespace: only one of them can bind each port. Configure one of them to listen on another port for Kubernetes.",
      });
    const alone = [...secretDirectories(c)].filter(([, d]) => d.fileByFile).map(([dir]) => dir);
    if (alone.length > 0)
      warnings.push({
        field: `containers.${c.key}.secrets`,
        message:
          `the secret files in ${alone.join(", ")} are mounted one by one (subPath), as another mount takes that ` +
          "directory (or it is the root): Kubernetes does not update such a file when the Secret changes, and " +
          "podman kube play ignores subPath.",
      });
    if (podHostname(c.name) === undefined)
      warnings.push({
        field: `containers.${c.key}.container_name`,
        message:
          `${c.name} cannot be a host name in Kubernetes (lower-case letters, digits, '-' and '.' only), so the ` +
          `other containers of the pod cannot reach ${c.key} by that name; they reach it as ${c.key}.`,
      });
    // Waiting for a job to complete is what an init container does: exact, no warning.
    const awaited = c.dependsOn.filter((d) => d.condition !== "completed");
    if (c.job && awaited.length > 0)
      warnings.push({
        field: `containers.${c.key}.depends_on`,
        message:
          `${c.key} is a job, rendered as an init container: Kubernetes runs it before every other container of ` +
          `the pod, so ${awaited.map((d) => d.key).join(" and ")} cannot be up for it. Make it wait itself, or move ` +
          "what it needs into the job.",
      });
    else if (awaited.length > 0) {
      const waits = awaited
        .map((d) => `${d.key} ${d.condition === "healthy" ? "is healthy" : "has started"}`)
        .join(" and ");
      warnings.push({
        field: `containers.${c.key}.depends_on`,
        message:
          `Podman starts ${c.key} once ${waits}; Kubernetes starts the containers of a pod without waiting for ` +
          `one another (only in the listed order). ${c.key} must wait itself: retry until they answer, or exit ` +
          "and be restarted.",
      });
    }
    if (c.job)
      warnings.push({
        field: `containers.${c.key}.job`,
        message:
          `${c.key} is an init container: Kubernetes runs it again at every start of the pod, where the daemon ` +
          "runs a job once per install, update or reinstall. It must be idempotent (a migration is).",
      });
    if (c.ulimits.length > 0)
      warnings.push({
        field: `containers.${c.key}.ulimits`,
        message:
          `Kubernetes has no per-container resource limits (${c.ulimits.map((u) => `${u.name} ${u.soft}:${u.hard}`).join(", ")}): ` +
          `${c.key} gets the node's container runtime defaults. Set them in the runtime's configuration, or raise the soft limit in the image's entrypoint (ulimit -S) up to the node's hard one.`,
      });
    if (c.init)
      warnings.push({
        field: `containers.${c.key}.init`,
        message:
          `Kubernetes has no init for one container, so ${c.key} runs as PID 1 without it: a program that ignores ` +
          "SIGTERM there is killed at the end of the grace period. Exact everywhere: an init (tini, catatonit) as the image's entrypoint.",
      });
    if (c.stopSignal) {
      const { name } = c.stopSignal;
      warnings.push({
        field: `containers.${c.key}.stop_signal`,
        message:
          `Kubernetes has no stop signal field, so a preStop hook sends ${name} to the container's PID 1 and waits ` +
          "for it to exit. The hook needs /bin/sh in the image: without it Kubernetes sends the image's STOPSIGNAL " +
          `(SIGTERM if it has none); podman kube play ignores the hook. Exact everywhere: STOPSIGNAL ${name} in the image.`,
      });
    }
    const hidden = c.ports.filter((p) => p.host === undefined).map((p) => `${p.container}/${p.protocol}`);
    if (hidden.length > 0) {
      const [ports, has, it] = [
        hidden.join(", "),
        hidden.length === 1 ? "has" : "have",
        hidden.length === 1 ? "it" : "them",
      ];
      warnings.push({
        field: `containers.${c.key}.ports`,
        message: exportedHosts(manifest).includes(c.key)
          ? `${ports} ${has} no host port, but ${c.key} is exported to dependents, so the Service lists ${it}; ` +
            `Kubernetes does not isolate pods, though: any pod of the cluster can connect to ${it}, not only ` +
            "dependents, unless a NetworkPolicy restricts it."
          : `${ports} ${has} no host port, so the Service leaves ${it} out; Kubernetes does not isolate pods, ` +
            `though: any pod of the cluster can connect to ${it} at the pod's address unless a NetworkPolicy ` +
            "admits only the Service's ports.",
      });
    }
  }
  warnings.push(...hookWarnings(manifest, app), ...consumerWarnings(manifest, app));
  return warnings;
}

/**
 * Accounts per consumer are made by the daemon's steps, which Kubernetes has no moment for: a
 * provider's steps, and a consumer's accounts, are each a warning saying what to run by hand.
 */
function consumerWarnings(manifest: Manifest, app: ResolvedApp): KubeWarning[] {
  const warnings: KubeWarning[] = app.consumes.map((provider) => ({
    field: "dependencies",
    message: `not rendered: the daemon creates ${app.id}'s account in ${provider} (its \`consumers.provision\` steps) before the app starts, Kubernetes has no such moment. Instead, run those steps in ${provider} by hand before applying, with ARCHY_CONSUMER_APP=${app.id}, ARCHY_CONSUMER_NAME=${consumerName(app.id)} and each ARCHY_CONSUMER_<SECRET> from the keys consumer.${provider}.* of this app's Secret.`,
  }));
  for (const which of ["provision", "deprovision"] as const) {
    const steps = manifest.consumers?.[which] ?? [];
    if (steps.length > 0)
      warnings.push({
        field: `consumers.${which}`,
        message: `not rendered: the daemon runs these ${steps.length} step${steps.length === 1 ? "" : "s"} for each dependent that uses \`\${consumer:${app.id}/…}\` ${which === "provision" ? "before it starts" : "at its purge"}; Kubernetes has no such moment. Instead, run ${steps.length === 1 ? "it" : "them"} by hand for each dependent.`,
      });
  }
  return warnings;
}

/** When each hook runs under the daemon, and what takes its place in Kubernetes. */
const HOOK_MOMENTS: Record<HookName, { when: string; instead: string }> = {
  post_install: {
    when: "once the containers of a first install run",
    instead: "run it once after the first apply",
  },
  pre_start: {
    when: "before a container's first start and every operator start or restart",
    instead:
      "bake a copied file into the image or mount it from a ConfigMap, and make a command an init container or part of the entrypoint",
  },
  post_update: {
    when: "after an update, once the new containers run",
    instead: "run it after applying the new version",
  },
  pre_uninstall: {
    when: "before the app's containers are removed",
    instead: "run it before deleting the Deployment",
  },
  pre_purge: {
    when: "before a purge deletes the app's data",
    instead: "run it before deleting the Deployment and its PersistentVolumeClaims",
  },
};

/**
 * Hooks are the daemon's: Kubernetes has no moment for them, so none is rendered, and each hook
 * that has steps is a warning naming its steps and what to do instead (as the docs promise: said,
 * not dropped).
 */
function hookWarnings(manifest: Manifest, app: ResolvedApp): KubeWarning[] {
  const deployment = `deployment/${kubeName(app.id)}`;
  return (Object.keys(HOOK_MOMENTS) as HookName[]).flatMap((hook) => {
    const steps = manifest.hooks[hook];
    if (steps.length === 0) return [];
    const described = steps.map((step, i) =>
      "exec" in step
        ? `${i === 0 ? "Step" : "step"} ${i + 1} runs ${JSON.stringify(step.exec.command)} in ${step.exec.container} (by hand: kubectl exec ${deployment} -c ${step.exec.container} -- …)`
        : "wait" in step
          ? `${i === 0 ? "Step" : "step"} ${i + 1} waits until ${step.wait.container} is ${step.wait.until}`
          : `${i === 0 ? "Step" : "step"} ${i + 1} copies ${step.copy_from_host.from} to ${step.copy_from_host.container}:${step.copy_from_host.to}`,
    );
    const { when, instead } = HOOK_MOMENTS[hook];
    return [
      {
        field: `hooks.${hook}`,
        message: `not rendered: the daemon runs ${hook} ${when}, Kubernetes has no such moment. ${described.join("; ")}. Instead, ${instead}.`,
      },
    ];
  });
}

/** `text` without line breaks or other control characters, which would end a comment line. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, "?");
}

/** `text` as comment lines of at most COMMENT_WIDTH characters: the first after `first`, others after `rest`. */
function commentLines(text: string, first: string, rest: string): string[] {
  const lines: string[] = [];
  let prefix = first;
  let words: string[] = [];
  for (const word of oneLine(text).split(" ")) {
    if (words.length > 0 && `${prefix}${[...words, word].join(" ")}`.length > COMMENT_WIDTH) {
      lines.push(prefix + words.join(" "));
      prefix = rest;
      words = [];
    }
    words.push(word);
  }
  lines.push(prefix + words.join(" "));
  return lines;
}

/** The commands that create the app's own Secret: new random values, or the node's files. */
function secretCommands(
  manifest: Manifest,
  app: ResolvedApp,
  secret: NeededSecret,
  ctx: RenderContext,
): string[] {
  const command = (args: string[]) => [
    `#     kubectl create secret generic ${secret.name} \\`,
    ...args.map((arg, i) => `#       ${arg}${i < args.length - 1 ? " \\" : ""}`),
  ];
  return [
    "#   New random values, as the manifest declares them (alphabet and length):",
    ...command(
      secret.keys.map((key) => {
        const { type, length } = ownSecretSpecs(manifest, app, ctx)[key] ?? {
          type: "alphanumeric",
          length: 32,
        };
        return `--from-literal=${key}="$(LC_ALL=C tr -dc '${TR_SETS[type]}' </dev/urandom | head -c ${length})"`;
      }),
    ),
    ...commentLines(
      `Or the values the app has on an Archipelago node whose data directory is ${ctx.dataRoot} (run there, ` +
        "as the daemon's user):",
      "#   ",
      "#   ",
    ),
    ...command(
      secret.keys.map(
        (key) =>
          `--from-file=${key}=${shQuote(oneLine(join(ctx.dataRoot, "state", "secrets", secret.app, key)))}`,
      ),
    ),
  ];
}

function header(
  manifest: Manifest,
  app: ResolvedApp,
  ctx: RenderContext,
  needed: NeededSecret[],
  warnings: KubeWarning[],
): string {
  const lines = [
    `# Rendered by Archipelago from ${app.id} ${app.version}. Do not edit: render it again from the manifest.`,
  ];
  if (needed.length > 0) {
    lines.push(
      "#",
      ...commentLines(
        "Secrets: this file reads Secrets it does not hold (secret values are never rendered). Create them " +
          "first, in the namespace the app goes to (kubectl create never overwrites an existing Secret):",
        "# ",
        "# ",
      ),
    );
    for (const s of needed)
      if (s.own) lines.push(`# - ${s.name}, with ${keyList(s)}.`, ...secretCommands(manifest, app, s, ctx));
      else
        lines.push(
          ...commentLines(
            `${s.name}, with ${keyList(s)}: the Secret of dependency ${s.app}, created with it as its render says.`,
            "# - ",
            "#   ",
          ),
        );
  }
  if (warnings.length > 0) {
    lines.push(
      "#",
      ...commentLines(
        `What Kubernetes does not keep as the Podman backends do (also in the annotation ${KUBE_WARNINGS_ANNOTATION}):`,
        "# ",
        "# ",
      ),
    );
    for (const w of warnings) lines.push(...commentLines(`${w.field}: ${w.message}`, "# - ", "#   "));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The app's Kubernetes objects as one multi-document YAML file, `<app>.yaml`, and a warning for each
 * manifest field they do not keep as the Podman backends do.
 */
export function renderKubeWithWarnings(
  manifest: Manifest,
  ctx: RenderContext,
  options: KubeOptions = {},
): KubeRender {
  const app = resolveApp(manifest, ctx);
  const needed = neededSecrets(manifest, app, ctx, options);
  const warnings = kubeWarnings(manifest, app, needed);
  const docs: Doc[] = [
    ...(options.secretValues ? [secret(manifest, app, ctx, options.secretValues)] : []),
    ...claims(app),
    ...[service(manifest, app)].filter((d): d is Doc => d !== undefined),
    deployment(app, warnings),
  ];
  const body = docs
    .map((doc) => YAML.stringify(canonicalize(doc), { lineWidth: 0, aliasDuplicateObjects: false }))
    .join("---\n");
  return {
    files: [
      { path: `${kubeName(app.id)}.yaml`, content: header(manifest, app, ctx, needed, warnings) + body },
    ],
    warnings,
  };
}

/** The app's Kubernetes objects as one multi-document YAML file, `<app>.yaml` (see renderKubeWithWarnings). */
export function renderKube(
  manifest: Manifest,
  ctx: RenderContext,
  options: KubeOptions = {},
): RenderedFile[] {
  return renderKubeWithWarnings(manifest, ctx, options).files;
}
