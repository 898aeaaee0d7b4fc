/**
 * How an app's interfaces are reached (docs/app-access.md): through the node's proxy, at the app's
 * host name, behind the operator's login. So the port an interface serves is published on loopback
 * only unless the manifest says otherwise (and is warned), and what an interface opens to everyone
 * (`auth: none`, `public_paths`) is asked of the operator like a permission. Pure.
 */
import type { Finding } from "./issues.ts";
import type { Manifest, PortSpec } from "./schema.ts";

/** Where a port an interface serves is published unless the manifest binds it elsewhere. */
export const INTERFACE_BIND = "127.0.0.1";
/** Where any other published port is. */
export const DEFAULT_BIND = "0.0.0.0";
/** The interface a bare `<app>.<node>` names: `ui` if there is one, else the first declared. */
export const MAIN_INTERFACE = "ui";

/** Binds only the node itself can reach. */
const LOOPBACK_BINDS = new Set(["127.0.0.1", "::1"]);

/** Whether the tcp port `port` of container `key` serves one of the app's interfaces. */
export function servesInterface(
  manifest: Manifest,
  key: string,
  port: Pick<PortSpec, "container" | "protocol">,
) {
  return (
    port.protocol === "tcp" &&
    Object.values(manifest.interfaces).some((ui) => ui.container === key && ui.port === port.container)
  );
}

/** The host address a published port is bound to: the manifest's `bind`, else the default for its kind. */
export function publishedBind(manifest: Manifest, key: string, port: PortSpec): string {
  return port.bind ?? (servesInterface(manifest, key, port) ? INTERFACE_BIND : DEFAULT_BIND);
}

/** The address a client on the node connects to for a port bound to `bind` (a wildcard is reached on loopback). */
export function connectAddress(bind: string): string {
  return bind === "0.0.0.0" ? "127.0.0.1" : bind === "::" ? "::1" : bind;
}

/** The interface `<app>.<node>` names, or undefined for an app without interfaces. */
export function mainInterface(manifest: Manifest): string | undefined {
  const names = Object.keys(manifest.interfaces);
  return names.includes(MAIN_INTERFACE) ? MAIN_INTERFACE : names[0];
}

/** Where the proxy reaches an interface on the node, or why it cannot. */
export type InterfaceUpstream =
  | { ok: true; protocol: "http" | "https"; address: string; port: number }
  | { ok: false; reason: string };

export function interfaceUpstream(manifest: Manifest, name: string): InterfaceUpstream {
  const ui = manifest.interfaces[name];
  if (!ui) return { ok: false, reason: `${manifest.id} has no interface ${name}` };
  const port = manifest.containers[ui.container]?.ports.find(
    (p) => p.container === ui.port && p.protocol === "tcp",
  );
  if (port?.host === undefined)
    return {
      ok: false,
      reason: `interface ${name} (${ui.container}:${ui.port}) is not published on the node: its manifest gives the port no \`host\``,
    };
  return {
    ok: true,
    protocol: ui.protocol,
    address: connectAddress(publishedBind(manifest, ui.container, port)),
    port: port.host,
  };
}

/** The name an interface's access request has among the app's permissions: no permission name has a dot. */
export function accessRequestName(interfaceName: string): string {
  return `interface.${interfaceName}`;
}

/**
 * Why a public path is refused, or undefined when it is fine: the proxy matches a request only in
 * canonical form (no dot segments, no empty segments, no percent-encoding), so a declared path must
 * be canonical too, and `/` alone would open everything (that is `auth: none`).
 */
export function publicPathProblem(path: string): string | undefined {
  if (path === "/") return "`/` would open the whole interface: declare `auth: none` instead";
  const segments = path.slice(1).split("/");
  if (segments.some((segment) => segment === "." || segment === ".."))
    return "a path may not contain `.` or `..` segments";
  if (segments.slice(0, -1).some((segment) => segment === "")) return "a path may not contain `//`";
  return undefined;
}

/** The second-level rules of interfaces' access: public paths are canonical and `auth: none` has none. */
export function checkAccess(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [name, ui] of Object.entries(manifest.interfaces)) {
    if (ui.auth === "none" && ui.public_paths.length > 0)
      findings.push({
        path: ["interfaces", name, "public_paths"],
        message: "an interface with `auth: none` is open everywhere: public paths say nothing more",
        fix: "remove public_paths, or remove `auth: none` to keep the rest behind the login",
        rule: "access.public-paths",
      });
    const seen = new Set<string>();
    for (const [index, path] of ui.public_paths.entries()) {
      const problem = publicPathProblem(path);
      if (problem)
        findings.push({
          path: ["interfaces", name, "public_paths", index],
          message: problem,
          fix: "write the path as the browser requests it, e.g. /.well-known/ or /hooks/deploy",
          rule: "access.public-path",
        });
      else if (seen.has(path))
        findings.push({
          path: ["interfaces", name, "public_paths", index],
          message: `${path} is listed twice`,
          fix: "list each path once",
          rule: "access.public-path",
        });
      seen.add(path);
    }
  }
  return findings;
}

/**
 * Warnings (the manifest is valid, the operator should know): a port an interface serves that the
 * manifest publishes beyond the node itself, where anyone on the network reaches the app without
 * the node's login and without TLS.
 */
export function accessWarnings(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers))
    for (const [index, port] of container.ports.entries()) {
      if (port.host === undefined || port.bind === undefined || LOOPBACK_BINDS.has(port.bind)) continue;
      if (!servesInterface(manifest, key, port)) continue;
      findings.push({
        path: ["containers", key, "ports", index, "bind"],
        message: `port ${port.container} serves an interface and is published on ${port.bind}:${port.host}: anyone who reaches that address gets the app without the node's login or TLS`,
        fix: "remove `bind` (an interface's port is then published on 127.0.0.1 and reached through the node's proxy), or bind 127.0.0.1",
        rule: "access.exposed-interface",
      });
    }
  return findings;
}
