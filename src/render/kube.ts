/**
 * Kubernetes objects for an app, as one multi-document YAML file: a Deployment (one replica,
 * `Recreate`, every container of the app in one pod), a Service, a PersistentVolumeClaim per app
 * volume and, only when the caller passes secret values explicitly (the CLI never does), a Secret.
 * The same file runs on k3s/Kubernetes and with `podman kube play` on a single node.
 *
 * Choices, and what Podman 4.3's `kube play` made necessary (all still valid Kubernetes):
 * - The stack's containers share the pod's network namespace, so their keys, aliases and names are
 *   mapped to 127.0.0.1 with `hostAliases`; a dependency's `host` export becomes its Service name.
 * - The Service lists every declared port (not only published ones): it is how other apps reach this
 *   one in a cluster. Containers list only their published ports, as `hostPort`s: Podman 4.3's
 *   `kube play` publishes every listed container port on the host, hostPort or not.
 * - PVCs carry `volume.podman.io/*` annotations so that `kube play` binds them to the same data
 *   directory the other backends use; Kubernetes ignores them.
 * - Secret values are never rendered: env secrets are `secretKeyRef`s and file secrets `secret`
 *   volumes of the app's Secret (`<app>-secrets`). Secret volumes say `optional: false`: Podman 4.3
 *   dereferences a missing `optional` and crashes. They are mounted on the target's directory with
 *   `items` (4.3 ignores `subPath`), so a file secret's file name should be its secret's name.
 * - tmpfs mounts are `emptyDir: {medium: Memory}` volumes with names unique to the app, because 4.3
 *   turns each into a named Podman volume of that name (shared by every pod using the name).
 * - Health checks use native probes (httpGet, tcpSocket, exec). Kubernetes has no expected-status
 *   field (it accepts 200-399), so an http check expecting another status becomes an exec probe.
 */
import { createHash } from "node:crypto";
import YAML from "yaml";
import { LABELS, OWNER, volumeName } from "../manifest/naming.ts";
import type { HealthSpec, Manifest } from "../manifest/schema.ts";
import { byCodeUnit, canonicalize } from "./canonical.ts";
import { probeScript } from "./health.ts";
import {
  ceilSeconds,
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

type Doc = Record<string, unknown>;

const MAX_NAME = 63;
const APP_NAME_LABEL = "app.kubernetes.io/name";

function hash8(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/** A DNS label (at most 63 characters), shortened with a hash suffix when needed. */
function dnsLabel(text: string): string {
  const label = text.replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "");
  return label.length <= MAX_NAME
    ? label
    : `${label.slice(0, MAX_NAME - 9).replace(/-+$/, "")}-${hash8(text)}`;
}

/** The name of the app's Deployment and Service: its id as a DNS label (`alice.relay` → `alice-relay`). */
export function kubeName(appId: string): string {
  return dnsLabel(appId);
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
  return { [APP_NAME_LABEL]: kubeName(app.id), [LABELS.owner]: OWNER, [LABELS.app]: app.id };
}

function metadata(app: ResolvedApp, name: string, extra: Doc = {}): Doc {
  return { name, labels: labels(app), ...extra };
}

function probe(health: HealthSpec): Doc {
  const timing = {
    initialDelaySeconds: ceilSeconds(health.start_period),
    periodSeconds: Math.max(1, ceilSeconds(health.interval)),
    timeoutSeconds: Math.max(1, ceilSeconds(health.timeout)),
    failureThreshold: health.retries,
  };
  if (health.type === "exec") return { exec: { command: health.command }, ...timing };
  if (health.type === "tcp") return { tcpSocket: { port: health.port }, ...timing };
  if (health.status >= 200 && health.status < 400)
    return { httpGet: { path: health.path, port: health.port, scheme: "HTTP" }, ...timing };
  return { exec: { command: ["/bin/sh", "-c", probeScript(health)] }, ...timing };
}

type PodVolume = { name: string; source: Doc };

function containerDoc(app: ResolvedApp, c: ResolvedContainer, volumes: PodVolume[]): Doc {
  const env: Doc[] = [
    ...Object.keys(c.env).map((name) => ({ name, value: c.env[name] })),
    ...c.envHosts.map((h) => ({ name: h.variable, value: kubeName(h.app) })),
    ...c.envSecrets.map((s) => ({
      name: s.variable,
      valueFrom: { secretKeyRef: { name: kubeSecretName(s.app), key: s.secret } },
    })),
  ].sort((a, b) => byCodeUnit(a.name as string, b.name as string));

  const mounts: Doc[] = [];
  const addVolume = (name: string, source: Doc) => {
    if (!volumes.some((v) => v.name === name)) volumes.push({ name, source });
  };
  let index = 0;
  for (const m of c.mounts) {
    if (m.kind === "volume") {
      const name = dnsLabel(`data-${m.volume}`);
      addVolume(name, { persistentVolumeClaim: { claimName: m.podmanVolume } });
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
  const secretDirs = new Map<string, typeof c.fileSecrets>();
  for (const s of c.fileSecrets) {
    const dir = s.target.slice(0, s.target.lastIndexOf("/")) || "/";
    secretDirs.set(dir, [...(secretDirs.get(dir) ?? []), s]);
  }
  for (const path of c.tmpfs) {
    // The model's tmpfs on a secrets directory is for Podman's own secret mounts; here the secret
    // volume itself is mounted there.
    if (secretDirs.has(path)) continue;
    const name = `tmpfs-${hash8(`${app.id}/${c.key}/${path}`)}`;
    addVolume(name, { emptyDir: { medium: "Memory" } });
    mounts.push({ name, mountPath: path });
  }
  for (const [dir, secrets] of [...secretDirs].sort(([a], [b]) => byCodeUnit(a, b))) {
    const name = `secrets-${hash8(`${app.id}/${c.key}/${dir}`)}`;
    addVolume(name, {
      secret: {
        secretName: kubeSecretName(app.id),
        optional: false,
        items: secrets.map((s) => ({
          key: s.secret,
          path: s.target.slice(dir.length + 1),
          // Kubernetes cannot give a volume's files an owner: a container that is not root gets
          // a file it can read instead of one only root could.
          mode: c.user === undefined || c.user.uid === 0 ? s.mode : 0o444,
        })),
      },
    });
    mounts.push({ name, mountPath: dir, readOnly: true });
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
  };
}

function deployment(app: ResolvedApp): Doc {
  const volumes: PodVolume[] = [];
  const containers = app.containers.map((c) => containerDoc(app, c, volumes));
  const seen = new Map<string, string>();
  for (const c of app.containers)
    for (const p of c.ports) {
      const id = `${p.container}/${p.protocol}`;
      const other = seen.get(id);
      if (other && other !== c.key)
        throw new RenderError(
          `${app.id}: containers ${other} and ${c.key} both listen on ${id}; in a Kubernetes pod they share one network namespace`,
        );
      seen.set(id, c.key);
    }
  const hostnames = new Set<string>();
  for (const c of app.containers) {
    hostnames.add(c.key);
    hostnames.add(c.name);
    for (const alias of c.networks[0]?.aliases ?? []) hostnames.add(alias);
  }
  hostnames.delete("localhost");
  const name = kubeName(app.id);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(app, name, { annotations: { [LABELS.version]: app.version } }),
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

function service(app: ResolvedApp): Doc | undefined {
  const ports = app.containers
    .flatMap((c) => c.ports)
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
    metadata: metadata(app, volumeName(app.id, v.volume), {
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

function secret(manifest: Manifest, app: ResolvedApp, values: Record<string, string>): Doc {
  const declared = Object.keys(manifest.secrets).sort(byCodeUnit);
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

/** The app's Kubernetes objects as one multi-document YAML file, `<app>.yaml`. */
export function renderKube(
  manifest: Manifest,
  ctx: RenderContext,
  options: KubeOptions = {},
): RenderedFile[] {
  const app = resolveApp(manifest, ctx);
  const docs: Doc[] = [
    ...(options.secretValues ? [secret(manifest, app, options.secretValues)] : []),
    ...claims(app),
    ...[service(app)].filter((d): d is Doc => d !== undefined),
    deployment(app),
  ];
  const header = `# Rendered by Archipelago from ${app.id} ${app.version}. Do not edit: render it again from the manifest.\n`;
  const body = docs
    .map((doc) => YAML.stringify(canonicalize(doc), { lineWidth: 0, aliasDuplicateObjects: false }))
    .join("---\n");
  return [{ path: `${kubeName(app.id)}.yaml`, content: header + body }];
}
