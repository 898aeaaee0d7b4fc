/**
 * The sample apps under `apps/`, loaded and validated as the CLI does, and helpers that make a
 * private copy of them for tests that run them on the real Podman: unique ids and container names
 * (so parallel runs and leftovers never collide), free host ports, and host paths and devices that
 * exist on this machine.
 */

import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { loadManifest } from "../../src/manifest/load.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import type { RenderContext } from "../../src/render/index.ts";

export const APPS_DIR = resolve(import.meta.dirname, "../../apps");
export const SAMPLE_IDS = ["hello-web", "notes", "mini-node", "mini-explorer"] as const;
/** The data root of golden files: the node default of a service user. */
export const GOLDEN_DATA_ROOT = "/var/lib/archipelago";

export async function loadSample(id: string): Promise<Manifest> {
  const loaded = await loadManifest(resolve(APPS_DIR, id));
  if (!loaded.ok)
    throw new Error(
      `sample ${id} is invalid:\n${loaded.issues.map((i) => `  ${i.line}:${i.column} ${i.message}`).join("\n")}`,
    );
  return loaded.manifest;
}

export async function loadSamples(): Promise<Record<string, Manifest>> {
  const entries = await Promise.all(SAMPLE_IDS.map(async (id) => [id, await loadSample(id)] as const));
  return Object.fromEntries(entries);
}

/**
 * The render context of `manifest` among `all`: the manifests of the apps it depends on, and a
 * subnet for each app network (one /24 per app, in the order of `all`), as a node has once the
 * networks exist.
 */
export function contextFor(
  manifest: Manifest,
  all: Record<string, Manifest>,
  dataRoot = GOLDEN_DATA_ROOT,
): RenderContext {
  const dependencies: Record<string, Manifest> = {};
  for (const dep of manifest.dependencies) {
    const found = all[dep.id];
    if (found) dependencies[dep.id] = found;
  }
  const subnets: Record<string, string> = {};
  for (const [index, id] of Object.values(all)
    .map((m) => m.id)
    .entries())
    if (id === manifest.id || dependencies[id]) subnets[id] = `10.89.${200 + index}.0/24`;
  return { dataRoot, dependencies, subnets };
}

/** Apps in an order where each comes after the apps it depends on. */
export function dependencyOrder(all: Record<string, Manifest>): string[] {
  const order: string[] = [];
  const visit = (id: string) => {
    if (order.includes(id)) return;
    for (const dep of all[id]?.dependencies ?? []) if (all[dep.id]) visit(dep.id);
    order.push(id);
  };
  for (const id of Object.keys(all).sort()) visit(id);
  return order;
}

/** A port no one listens on right now (tcp or udp), as the kernel hands out. */
export async function freePort(protocol: "tcp" | "udp" = "tcp"): Promise<number> {
  if (protocol === "udp") {
    const socket = createSocket("udp4");
    await new Promise<void>((done) => socket.bind(0, "127.0.0.1", done));
    const { port } = socket.address();
    await new Promise<void>((done) => socket.close(() => done()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "0.0.0.0", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export type Isolation = {
  /** Prefix of every app id, e.g. `t3f9a1c`. */
  prefix: string;
  /** Host directories that stand in for the samples' host-path permissions live under this root. */
  hostRoot: string;
  /** The device node that stands in for every device permission (the real ones are root-only here). */
  device: string;
};

/**
 * Copies of the sample manifests that can run beside anything else: ids `<prefix>-<id>` (every
 * reference follows), container names prefixed, host ports replaced by free ones, host-path
 * permissions moved under `hostRoot` and devices replaced by `device` at the same container path.
 */
export async function isolate(
  all: Record<string, Manifest>,
  { prefix, hostRoot, device }: Isolation,
): Promise<{ apps: Record<string, Manifest>; ids: Record<string, string>; ports: Map<string, number> }> {
  const ids: Record<string, string> = Object.fromEntries(
    Object.keys(all).map((id) => [id, `${prefix}-${id}`]),
  );
  const ports = new Map<string, number>();
  const apps: Record<string, Manifest> = {};
  for (const [id, original] of Object.entries(all)) {
    const m = structuredClone(original);
    m.id = ids[id] as string;
    m.dependencies = m.dependencies.map((d) => ({ ...d, id: ids[d.id] ?? d.id }));
    for (const [key, c] of Object.entries(m.containers)) {
      if (c.container_name) c.container_name = `${prefix}-${c.container_name}`;
      for (const [name, value] of Object.entries(c.environment))
        if (typeof value === "object" && "app" in value)
          c.environment[name] = { ...value, app: ids[value.app] ?? value.app };
      for (const port of c.ports) {
        if (port.host === undefined) continue;
        const fresh = await freePort(port.protocol);
        ports.set(`${id}/${key}/${port.container}/${port.protocol}`, fresh);
        port.host = fresh;
      }
      for (const volume of c.volumes)
        if (volume.host_path) volume.host_path = `${hostRoot}${volume.host_path}`;
      for (const dev of c.devices) {
        const permission = original.permissions[dev.permission];
        if (permission?.kind === "device") dev.path = dev.path ?? permission.path;
      }
    }
    for (const permission of Object.values(m.permissions)) {
      if (permission.kind === "host-path") permission.path = `${hostRoot}${permission.path}`;
      if (permission.kind === "device") permission.path = device;
    }
    apps[m.id] = m;
  }
  return { apps, ids, ports };
}

/** A short random prefix for names of one test run. */
export function runPrefix(): string {
  return `t${Math.random().toString(36).slice(2, 8)}`;
}
