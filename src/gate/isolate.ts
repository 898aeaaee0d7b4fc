/**
 * The gate's sandbox copies of app manifests, so that a gate run never touches what else runs on
 * the node (a demo daemon with the same sample apps, an operator's apps): app ids, container names,
 * legacy adoption names and volumes get the run's prefix (every reference follows), published host
 * ports become free ports on 127.0.0.1, and host-specific needs get stand-ins: host-path
 * permissions move under the sandbox's own directory and devices are replaced by a harmless one at
 * the same path inside the container. Pure: text in, text out, with every substitution listed for
 * the report. Comments and layout of the original are kept.
 */

import { isMap, isScalar, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import { renameTemplateApps } from "../manifest/interpolation.ts";

export type Isolation = {
  /** Prefix of every id and name, e.g. `g7k2m`. */
  prefix: string;
  /** The new id of every gated app, by original id (dependencies and export references follow). */
  ids: Record<string, string>;
  /** New host ports by `<container key>/<container port>/<protocol>`. */
  ports: Record<string, number>;
  /** Host-path permissions and volumes move under this directory. */
  hostRoot: string;
  /** The device that stands in for every device permission. */
  device: string;
};

export type Isolated = { text: string; id: string; substitutions: string[] };

export class IsolationError extends Error {}

const scalar = (node: unknown): unknown => (isScalar(node) ? node.value : node);

/** The port keys of a manifest that publish a host port: `<key>/<port>/<protocol>`. */
export function publishedPorts(
  manifestText: string,
): Array<{ key: string; host: number; protocol: "tcp" | "udp" }> {
  const doc = parseDocument(manifestText);
  const out: Array<{ key: string; host: number; protocol: "tcp" | "udp" }> = [];
  const containers = doc.get("containers");
  if (!isMap(containers)) return out;
  for (const pair of containers.items) {
    const key = String(scalar(pair.key));
    const ports = isMap(pair.value) ? pair.value.get("ports") : undefined;
    if (!isSeq(ports)) continue;
    for (const port of ports.items) {
      if (!isMap(port) || !port.has("host")) continue;
      const protocol = (String(port.get("protocol") ?? "tcp") === "udp" ? "udp" : "tcp") as "tcp" | "udp";
      out.push({
        key: `${key}/${port.get("container")}/${protocol}`,
        host: Number(port.get("host")),
        protocol,
      });
    }
  }
  return out;
}

/** The sandbox copy of one manifest. */
export function isolateManifest(manifestText: string, isolation: Isolation): Isolated {
  const doc = parseDocument(manifestText);
  if (doc.errors.length > 0)
    throw new IsolationError(`the manifest does not parse: ${doc.errors[0]?.message}`);
  const { prefix, ids } = isolation;
  const substitutions: string[] = [];
  const original = String(doc.get("id"));
  const id = ids[original];
  if (!id) throw new IsolationError(`no sandbox id for ${original}`);
  doc.set("id", id);
  substitutions.push(`id ${original} -> ${id}`);
  const renamed = (value: string) => ids[value] ?? value;

  const dependencies = doc.get("dependencies");
  if (isSeq(dependencies))
    for (const dependency of dependencies.items as YAMLMap[])
      dependency.set("id", renamed(String(dependency.get("id"))));

  const containers = doc.get("containers");
  if (!isMap(containers)) throw new IsolationError(`${original} has no containers`);
  for (const pair of containers.items) {
    const key = String(scalar(pair.key));
    const c = pair.value as YAMLMap;
    const explicit = c.get("container_name");
    if (explicit !== undefined) {
      c.set("container_name", `${prefix}-${explicit}`);
      substitutions.push(`container name ${explicit} -> ${prefix}-${explicit}`);
    }
    const environment = c.get("environment");
    if (isMap(environment))
      for (const variable of environment.items) {
        if (isMap(variable.value) && variable.value.has("app"))
          variable.value.set("app", renamed(String(variable.value.get("app"))));
        if (isScalar(variable.value) && typeof variable.value.value === "string")
          variable.value.value = renameTemplateApps(variable.value.value, renamed);
      }
    const ports = c.get("ports");
    if (isSeq(ports))
      for (const port of ports.items as YAMLMap[]) {
        if (!port.has("host")) continue;
        const protocol = String(port.get("protocol") ?? "tcp") === "udp" ? "udp" : "tcp";
        const portKey = `${key}/${port.get("container")}/${protocol}`;
        const fresh = isolation.ports[portKey];
        if (fresh === undefined) throw new IsolationError(`no sandbox port for ${original} ${portKey}`);
        const before = `${port.get("bind") ?? "0.0.0.0"}:${port.get("host")}`;
        port.set("host", fresh);
        port.set("bind", "127.0.0.1");
        substitutions.push(
          `port ${key}:${port.get("container")}/${protocol} ${before} -> 127.0.0.1:${fresh}`,
        );
      }
    const volumes = c.get("volumes");
    if (isSeq(volumes))
      for (const volume of volumes.items as YAMLMap[])
        if (volume.has("host_path")) {
          const path = String(volume.get("host_path"));
          volume.set("host_path", `${isolation.hostRoot}${path}`);
          substitutions.push(`host path ${path} -> ${isolation.hostRoot}${path}`);
        }
  }

  const permissions = doc.get("permissions");
  if (isMap(permissions))
    for (const pair of permissions.items) {
      const permission = pair.value as YAMLMap;
      const kind = permission.get("kind");
      if (kind === "host-path") {
        const path = String(permission.get("path"));
        permission.set("path", `${isolation.hostRoot}${path}`);
      } else if (kind === "device") {
        const path = String(permission.get("path"));
        permission.set("path", isolation.device);
        substitutions.push(`device ${path} -> ${isolation.device} (at ${path} inside the container)`);
        // The device keeps its path inside the container.
        for (const containerPair of containers.items) {
          const devices = (containerPair.value as YAMLMap).get("devices");
          if (!isSeq(devices)) continue;
          for (const device of devices.items as YAMLMap[])
            if (device.get("permission") === scalar(pair.key) && !device.has("path"))
              device.set("path", path);
        }
      }
    }

  const adoption = doc.get("adoption");
  if (isMap(adoption)) {
    const legacy = adoption.get("containers");
    if (isMap(legacy))
      for (const pair of legacy.items) {
        const list = pair.value as YAMLSeq;
        list.items = list.items.map((item) => `${prefix}-${scalar(item)}`);
      }
    const volumes = adoption.get("volumes");
    if (isMap(volumes))
      for (const pair of volumes.items) pair.value = doc.createNode(`${prefix}-${scalar(pair.value)}`);
    const paths = adoption.get("data_paths");
    if (isMap(paths))
      for (const pair of paths.items)
        pair.value = doc.createNode(`${isolation.hostRoot}${scalar(pair.value)}`);
    if (isMap(legacy) || isMap(volumes) || isMap(paths))
      substitutions.push(`adoption names prefixed with ${prefix}-, data paths under ${isolation.hostRoot}`);
  }
  return { text: doc.toString(), id, substitutions };
}

/** Host directories the sandbox copy needs (host-path permissions), under the host root. */
export function hostPathsOf(manifestText: string, hostRoot: string): string[] {
  const doc = parseDocument(manifestText);
  const out: string[] = [];
  const containers = doc.get("containers");
  if (!isMap(containers)) return out;
  for (const pair of containers.items) {
    const volumes = isMap(pair.value) ? pair.value.get("volumes") : undefined;
    if (!isSeq(volumes)) continue;
    for (const volume of volumes.items)
      if (isMap(volume) && volume.has("host_path")) out.push(`${hostRoot}${String(volume.get("host_path"))}`);
  }
  return out;
}
