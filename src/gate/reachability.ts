/**
 * How an operator reaches an app from the node, read from its manifest: its web interfaces (an HTTP
 * request to the published port, expecting the status its health check expects on that path, else
 * any success or redirect), else the published TCP ports its health checks probe (a TCP connect).
 * Only the loopback address is ever used: a port bound to another address is not probed.
 */
import { publishedBind } from "../manifest/access.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { Availability } from "./matrix.ts";

export type ReachTarget =
  | {
      kind: "http";
      name: string;
      protocol: "http" | "https";
      container: string;
      hostPort: number;
      path: string;
      /** The exact status expected, or undefined for any 2xx/3xx. */
      status: number | undefined;
    }
  | { kind: "tcp"; name: string; container: string; hostPort: number };

const LOOPBACK_REACHABLE = new Set(["127.0.0.1", "0.0.0.0", "::", "::1"]);

/** The targets of an app, or why it has none an operator can reach from this host. */
export function reachTargets(manifest: Manifest): { targets: ReachTarget[]; availability: Availability } {
  const targets: ReachTarget[] = [];
  const notes: string[] = [];
  for (const [name, ui] of Object.entries(manifest.interfaces)) {
    const container = manifest.containers[ui.container];
    const port = container?.ports.find((p) => p.container === ui.port && p.protocol === "tcp");
    if (!container || !port) continue;
    if (port.host === undefined) {
      notes.push(`interface ${name} (${ui.container}:${ui.port}) is not published on the host`);
      continue;
    }
    const bind = publishedBind(manifest, ui.container, port);
    if (!LOOPBACK_REACHABLE.has(bind)) {
      notes.push(`interface ${name} is bound to ${bind}, not reachable on loopback`);
      continue;
    }
    const health = container.health;
    const status =
      health?.type === "http" && health.port === ui.port && health.path === ui.path
        ? health.status
        : undefined;
    targets.push({
      kind: "http",
      name,
      protocol: ui.protocol,
      container: ui.container,
      hostPort: port.host,
      path: ui.path,
      status,
    });
  }
  if (targets.length === 0 && Object.keys(manifest.interfaces).length === 0)
    for (const [key, container] of Object.entries(manifest.containers)) {
      const health = container.health;
      if (health?.type !== "tcp") continue;
      const port = container.ports.find((p) => p.container === health.port && p.protocol === "tcp");
      if (port?.host === undefined || !LOOPBACK_REACHABLE.has(publishedBind(manifest, key, port))) continue;
      targets.push({ kind: "tcp", name: `${key}:${health.port}`, container: key, hostPort: port.host });
    }
  if (targets.length > 0) return { targets, availability: { available: true } };
  const reason =
    notes.length > 0
      ? `not reachable from this host: ${notes.join("; ")}`
      : Object.keys(manifest.interfaces).length === 0
        ? `${manifest.id} declares no interface and no health-checked TCP port published on the host: nothing for an operator to open`
        : `${manifest.id}'s interfaces name no published TCP port`;
  return { targets, availability: { available: false, reason } };
}

/** Whether an HTTP answer is what the target expects. */
export function statusMatches(target: Extract<ReachTarget, { kind: "http" }>, status: number): boolean {
  return target.status !== undefined ? status === target.status : status >= 200 && status < 400;
}

/** The expectation in words, for the report. */
export function describeTarget(target: ReachTarget): string {
  if (target.kind === "tcp") return `TCP connect to 127.0.0.1:${target.hostPort} (${target.name})`;
  const expect = target.status !== undefined ? `HTTP ${target.status}` : "HTTP 2xx/3xx";
  return `${expect} from ${target.protocol}://127.0.0.1:${target.hostPort}${target.path} (interface ${target.name})`;
}
