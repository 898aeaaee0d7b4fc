/**
 * A service's ports and network in manifest terms: published ports (short and long syntax, ranges
 * expanded) with a low-port permission below 1024, `expose`d ports on the app network, network
 * aliases; every app gets one network of its own, so host networking, shared namespaces, several
 * networks and fixed addresses are reported, never carried over. Pure.
 */
import { isIP } from "node:net";
import type { Conversion } from "./convert-context.ts";
import type { ProjectService } from "./project.ts";
import type { PortEntry } from "./spec.ts";

export type PortOut = { container: number; host?: number; protocol?: "udp"; bind?: string };

/** The most ports one range may expand to: larger ranges are a mistake, or an attack. */
const MAX_RANGE = 1000;

type Range = { from: number; to: number };

function parseRange(text: string): Range | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  return from >= 1 && to <= 65535 && from <= to ? { from, to } : undefined;
}

/** One port entry as `{ ip?, host?, container, protocol }` ranges, or a reason it is not one. */
function readPort(
  entry: PortEntry,
): { ip?: string; host?: Range; container: Range; protocol: string } | string {
  if (typeof entry === "number")
    return parseRange(String(entry))
      ? { container: { from: entry, to: entry }, protocol: "tcp" }
      : `${entry} is not a port`;
  if (typeof entry === "object") {
    const container = parseRange(String(entry.target ?? ""));
    if (!container) return `target ${JSON.stringify(entry.target)} is not a port`;
    const published =
      entry.published === undefined || entry.published === ""
        ? undefined
        : parseRange(String(entry.published));
    if (entry.published !== undefined && entry.published !== "" && !published)
      return `published ${JSON.stringify(entry.published)} is not a port or a range`;
    return {
      ip: entry.host_ip,
      host: published,
      container,
      protocol: (entry.protocol ?? "tcp").toLowerCase(),
    };
  }
  const [spec, protocol = "tcp"] = entry.split("/") as [string, string?];
  // `[::1]:8080:80`: an IPv6 address in brackets, then host and container.
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(spec);
  const parts = bracket ? [bracket[1] as string, ...(bracket[2] as string).split(":")] : spec.split(":");
  let ip: string | undefined;
  let host: string | undefined;
  let container: string;
  if (parts.length === 1) container = parts[0] as string;
  else if (parts.length === 2) [host, container] = parts as [string, string];
  else if (parts.length === 3) [ip, host, container] = parts as [string, string, string];
  else return `${entry} is not [[ADDRESS:]HOST:]CONTAINER[/PROTOCOL]`;
  const containerRange = parseRange(container);
  if (!containerRange) return `${container} is not a port or a range`;
  const hostRange = host === undefined || host === "" ? undefined : parseRange(host);
  if (host !== undefined && host !== "" && !hostRange) return `${host} is not a port or a range`;
  return { ip, host: hostRange, container: containerRange, protocol: protocol.toLowerCase() };
}

export function convertPorts(
  conversion: Conversion,
  service: ProjectService,
  hostNetwork: boolean,
): PortOut[] {
  const out: PortOut[] = [];
  const seen = new Set<string>();
  const add = (port: PortOut) => {
    const key = `${port.container}/${port.protocol ?? "tcp"}/${port.host ?? "-"}`;
    if (seen.has(key)) return;
    // The same container port published and private: the published entry says it all.
    if (
      port.host === undefined &&
      out.some((p) => p.container === port.container && (p.protocol ?? "tcp") === (port.protocol ?? "tcp"))
    )
      return;
    seen.add(key);
    out.push(port);
  };
  for (const [index, entry] of (service.spec.ports ?? []).entries()) {
    const sub = ["ports", index];
    const port = readPort(entry);
    if (typeof port === "string") {
      conversion.note(
        "decide",
        service,
        sub,
        `not published: ${port}`,
        "write the port as the compose specification does ([[ADDRESS:]HOST:]CONTAINER[/PROTOCOL])",
      );
      continue;
    }
    if (port.protocol !== "tcp" && port.protocol !== "udp") {
      conversion.note(
        "decide",
        service,
        sub,
        `not published: the protocol ${port.protocol} is not supported (tcp or udp)`,
        "check whether the app needs it",
      );
      continue;
    }
    const count = port.container.to - port.container.from + 1;
    if (count > MAX_RANGE) {
      conversion.note(
        "decide",
        service,
        sub,
        `not published: a range of ${count} ports (at most ${MAX_RANGE})`,
        "list the ports the app needs",
      );
      continue;
    }
    // Host networking publishes nothing: the program listens on the node's ports themselves.
    let host = hostNetwork ? port.container : port.host;
    if (host && host.to - host.from + 1 !== count) {
      if (count === 1) {
        conversion.note(
          "review",
          service,
          sub,
          `Docker picks a free host port in ${host.from}-${host.to}; the platform publishes ${host.from}`,
        );
        host = { from: host.from, to: host.from };
      } else {
        conversion.note(
          "decide",
          service,
          sub,
          "not published: the host and container ranges differ in length",
          "write ranges of the same length",
        );
        continue;
      }
    }
    if (!host && typeof entry !== "object" && !hostNetwork)
      conversion.note(
        "review",
        service,
        sub,
        `Docker publishes container port ${port.container.from} on a random host port; here it is reachable on the app network only`,
        "add a host port if people or other apps must reach it",
      );
    const bind = port.ip && port.ip !== "0.0.0.0" && !hostNetwork ? port.ip : undefined;
    if (bind !== undefined && isIP(bind) === 0) {
      conversion.note(
        "decide",
        service,
        sub,
        `not published: ${bind} is not an IP address`,
        "bind to an address of the node, or to all (0.0.0.0)",
      );
      continue;
    }
    for (let i = 0; i < count; i++) {
      const hostPort = host ? host.from + i : undefined;
      if (hostPort !== undefined && hostPort < 1024) lowPort(conversion, service, sub, hostPort);
      add({
        container: port.container.from + i,
        ...(hostPort !== undefined ? { host: hostPort } : {}),
        ...(port.protocol === "udp" ? { protocol: "udp" as const } : {}),
        ...(bind ? { bind } : {}),
      });
    }
  }
  for (const [index, exposed] of (service.spec.expose ?? []).entries()) {
    const [number, protocol = "tcp"] = String(exposed).split("/") as [string, string?];
    const range = parseRange(number);
    if (!range || range.to - range.from >= MAX_RANGE || (protocol !== "tcp" && protocol !== "udp")) {
      conversion.note(
        "decide",
        service,
        ["expose", index],
        `not carried over: ${exposed} is not a port`,
        "write a port number",
      );
      continue;
    }
    for (let p = range.from; p <= range.to; p++)
      add({
        container: p,
        ...(hostNetwork ? { host: p } : {}),
        ...(protocol === "udp" ? { protocol: "udp" as const } : {}),
      });
  }
  return out;
}

/**
 * What replaces the host's network: the app's own network with the service's ports published on
 * the same host ports. Where the file names those ports, that is the whole of what most such apps
 * use the host's network for (being reachable on fixed ports), and what is left is a check; where
 * it names none, the app would be unreachable, and the developer must say which ports it serves.
 */
export function hostNetworkNote(conversion: Conversion, service: ProjectService, ports: PortOut[]): void {
  if (ports.length === 0) {
    conversion.note(
      "decide",
      service,
      ["network_mode"],
      "host networking is never given, and the file names no port the container serves: on the app's own network it would be unreachable",
      "list the ports it listens on under `ports` (they are published on the same host ports)",
    );
    return;
  }
  const published = ports
    .map((p) => `${p.host ?? p.container}${p.protocol === "udp" ? "/udp" : ""}`)
    .join(", ");
  conversion.note(
    "review",
    service,
    ["network_mode"],
    `host networking is never given: the container gets the app's own network, with ports ${published} published on the same host ports`,
    "check that the app needs nothing else of the host's network (discovery by broadcast or mDNS, DHCP, managing interfaces do not work)",
  );
}

function lowPort(
  conversion: Conversion,
  service: ProjectService,
  sub: (string | number)[],
  port: number,
): void {
  const name = conversion.permissionName(`port-${port}`, {
    kind: "low-port",
    port,
    reason: `Publishes port ${port} of ${service.name} (imported from docker-compose)`,
  });
  conversion.note(
    "info",
    service,
    sub,
    `host port ${port} is below 1024: asked with the low-port permission \`${name}\`, which the operator approves at install`,
  );
}

/** Whether the service asks for the host's network, and its aliases on the app network. */
export function convertNetwork(
  conversion: Conversion,
  service: ProjectService,
): { hostNetwork: boolean; aliases: string[] } {
  const { spec } = service;
  const aliases: string[] = [];
  const mode = spec.network_mode;
  let hostNetwork = false;
  // Reported once its ports are known, the web page's included (hostNetworkNote).
  if (mode === "host") hostNetwork = true;
  else if (mode === "none")
    conversion.note(
      "review",
      service,
      ["network_mode"],
      "the container is on the app network, not without a network",
      "check that it needs none",
    );
  else if (mode !== undefined && mode !== "bridge" && mode !== "default")
    conversion.note(
      "decide",
      service,
      ["network_mode"],
      `not carried over: \`${mode}\` shares another container's network, which the platform never does`,
      "reach the other container by its key on the app network",
    );

  const networks = spec.networks;
  const names = networks === undefined ? [] : Array.isArray(networks) ? networks : Object.keys(networks);
  if (!Array.isArray(networks) && networks !== undefined)
    for (const [name, settings] of Object.entries(networks)) {
      if (!settings) continue;
      aliases.push(...(settings.aliases ?? []));
      const fixed = ["ipv4_address", "ipv6_address", "mac_address", "link_local_ips"].filter(
        (key) => key in settings,
      );
      if (fixed.length > 0)
        conversion.note(
          "decide",
          service,
          ["networks", name],
          `not carried over: ${fixed.join(", ")} (the platform chooses addresses)`,
          "reach the container by its key or an alias instead of its address",
        );
    }
  for (const name of names) {
    const declared = conversion.project.top.networks?.[name];
    if (declared && typeof declared === "object" && declared.external)
      conversion.note(
        "decide",
        service,
        ["networks", name],
        `not carried over: the external network ${name} (an app has its own network only)`,
        "reach other apps through their exports (dependencies)",
      );
  }
  if (names.length > 1)
    conversion.note(
      "info",
      service,
      ["networks"],
      `the networks ${names.join(", ")} are one: the app's own network, shared by all its containers`,
    );
  extraHosts(conversion, service);
  for (const [index, link] of (spec.links ?? []).entries()) {
    const [, alias] = link.split(":");
    if (alias)
      conversion.note(
        "info",
        service,
        ["links", index],
        `the link alias ${alias} is not carried over: the linked container is reachable by its key`,
      );
  }
  return { hostNetwork, aliases };
}

/**
 * Host entries are not the app's to add. The one most files add, `host.docker.internal:host-gateway`
 * (the node, for a container), Podman has under its own name, host.containers.internal.
 */
function extraHosts(conversion: Conversion, service: ProjectService): void {
  const written = service.spec.extra_hosts;
  if (written === undefined) return;
  const entries = Array.isArray(written)
    ? written.map((entry, index) => ({
        sub: ["extra_hosts", index],
        name: entry.split(/[:=]/)[0] as string,
        target: entry.slice(entry.search(/[:=]/) + 1),
      }))
    : Object.entries(written).map(([name, target]) => ({
        sub: ["extra_hosts", name],
        name,
        target: String(target),
      }));
  for (const { sub, name, target } of entries) {
    if (target !== "host-gateway") {
      conversion.note(
        "decide",
        service,
        sub,
        `not carried over: the host entry ${name} → ${target} (the platform adds no host entries of an app's choosing)`,
        "reach the app's other containers by their key; another app through its exports (dependencies)",
      );
      continue;
    }
    const used = conversion.project.services.some(
      (other) =>
        [...other.environment.values()].some((e) => e.value?.includes(name)) ||
        JSON.stringify([other.spec.command, other.spec.entrypoint]).includes(name),
    );
    conversion.note(
      used ? "decide" : "review",
      service,
      sub,
      `the node is reachable from the container as host.containers.internal (Podman's name for it), not as ${name}${used ? `, which the app's settings use` : ""}`,
      `where the app is told to reach ${name}, write host.containers.internal`,
    );
  }
}
