/**
 * Health probing by the daemon itself (Podman's health timers need systemd). Probes run inside the
 * container (the same shell probes the renderers give Podman), so unpublished ports work too. The
 * verdict has hysteresis: `retries` consecutive failures make a container unhealthy, one success
 * makes it healthy, and failures during its start period do not count — a slow, loaded node does
 * not flap.
 *
 * A probe inside the container cannot see what its users see from outside: a published port whose
 * host side is gone (rootless Podman's port forwarder died, or was never set up: the gate found a
 * start race that did that) while the process inside serves. So a probe that passes inside is
 * followed by a TCP connect to each published TCP port on the host; one that refuses fails the
 * probe, and the usual hysteresis restarts the container, which sets its forwarding up again.
 */
import type { ContainerSpec, HealthSpec } from "../manifest/schema.ts";
import { probeCommand } from "../render/health.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import type { Health } from "./planner.ts";

export type ProbeRecord = {
  containerId: string;
  startedAt: number;
  health: Health;
  consecutiveFailures: number;
  lastProbeAt: number | undefined;
  lastOutput: string | undefined;
};

/** The verdict after one probe. Pure. */
export function afterProbe(
  record: ProbeRecord,
  ok: boolean,
  output: string,
  spec: HealthSpec,
  now: number,
): ProbeRecord {
  if (ok)
    return { ...record, health: "healthy", consecutiveFailures: 0, lastProbeAt: now, lastOutput: output };
  const inStartPeriod = now - record.startedAt < spec.start_period;
  const failures = inStartPeriod ? 0 : record.consecutiveFailures + 1;
  const health: Health =
    failures >= spec.retries ? "unhealthy" : record.health === "healthy" ? "healthy" : "starting";
  return { ...record, health, consecutiveFailures: failures, lastProbeAt: now, lastOutput: output };
}

/**
 * Whether two start times are the same start. Podman's list gives whole seconds, an inspect gives
 * nanoseconds, and the reconciler uses the inspect's time right after a restart request (to tell a
 * start before the request from one after it, in the same second): the health records come from the
 * list. Compared exactly, a container restarted in the second of its restart request stayed
 * `starting` for ever — the production gate found it.
 */
export function sameStart(a: number, b: number): boolean {
  return Math.floor(a / 1000) === Math.floor(b / 1000);
}

/** Whether a probe is due. Pure. */
export function probeDue(record: ProbeRecord | undefined, spec: HealthSpec, now: number): boolean {
  return record?.lastProbeAt === undefined || now - record.lastProbeAt >= spec.interval;
}

export type ProbeRunner = (
  container: ObservedContainer,
  command: string[],
  timeoutMs: number,
) => Promise<{ ok: boolean; output: string }>;

/** A published TCP port as the host reaches it. */
export type HostEndpoint = { address: string; port: number };

/**
 * The host ends of a container's published TCP ports, as a client on the node connects to them
 * (a wildcard bind is reached on loopback). UDP has no connect to check. Pure.
 */
export function publishedEndpoints(spec: Pick<ContainerSpec, "ports">): HostEndpoint[] {
  return spec.ports.flatMap((p) =>
    p.host === undefined || p.protocol !== "tcp"
      ? []
      : [{ address: p.bind === "0.0.0.0" ? "127.0.0.1" : p.bind === "::" ? "::1" : p.bind, port: p.host }],
  );
}

/** Whether something accepts a TCP connection at the endpoint within the time limit. */
export type HostReach = (endpoint: HostEndpoint, timeoutMs: number) => Promise<boolean>;

export type Probed = {
  appId: string;
  key: string;
  container: ObservedContainer;
  spec: HealthSpec;
  /** Checked from the host after a probe that passed inside the container. */
  published: HostEndpoint[];
};

export class HealthMonitor {
  readonly #records = new Map<string, ProbeRecord>();
  readonly #running = new Set<string>();
  readonly #probe: ProbeRunner;
  readonly #reach: HostReach;
  readonly #onChange: (appId: string) => void;
  readonly #clock: () => number;

  constructor(options: {
    probe: ProbeRunner;
    reach: HostReach;
    onChange: (appId: string) => void;
    clock?: () => number;
  }) {
    this.#probe = options.probe;
    this.#reach = options.reach;
    this.#onChange = options.onChange;
    this.#clock = options.clock ?? Date.now;
  }

  /** The in-container probe, then (when it passed) the published ports from the host. */
  async #check(t: Probed): Promise<{ ok: boolean; output: string }> {
    const inside = await this.#probe(t.container, probeCommand(t.spec), t.spec.timeout).catch(
      (error: Error) => ({ ok: false, output: error.message }),
    );
    if (!inside.ok) return inside;
    for (const endpoint of t.published)
      if (!(await this.#reach(endpoint, t.spec.timeout).catch(() => false)))
        return {
          ok: false,
          output: `the probe passes inside the container, but its published port ${endpoint.address}:${endpoint.port} refuses connections on the host (its port forwarding is gone)`,
        };
    return inside;
  }

  /** The current verdict: a running container without a health check counts as healthy. */
  healthOf(container: ObservedContainer | undefined, spec: HealthSpec | undefined): Health {
    if (container?.state !== "running") return "unknown";
    if (!spec) return "healthy";
    const record = this.#records.get(container.id);
    if (!record || !sameStart(record.startedAt, container.startedAt ?? 0)) return "starting";
    return record.health;
  }

  lastOutput(containerId: string): string | undefined {
    return this.#records.get(containerId)?.lastOutput;
  }

  /** Probes every due container (each at most once at a time); forgets containers no longer seen. */
  async tick(targets: Probed[]): Promise<void> {
    const now = this.#clock();
    const live = new Set(targets.map((t) => t.container.id));
    for (const id of this.#records.keys()) if (!live.has(id)) this.#records.delete(id);
    await Promise.all(
      targets
        .filter((t) => t.container.state === "running" && !this.#running.has(t.container.id))
        .map(async (t) => {
          const startedAt = t.container.startedAt ?? 0;
          let record = this.#records.get(t.container.id);
          if (!record || !sameStart(record.startedAt, startedAt))
            record = {
              containerId: t.container.id,
              startedAt,
              health: "starting",
              consecutiveFailures: 0,
              lastProbeAt: undefined,
              lastOutput: undefined,
            };
          this.#records.set(t.container.id, record);
          if (!probeDue(record, t.spec, now)) return;
          this.#running.add(t.container.id);
          try {
            const result = await this.#check(t);
            const next = afterProbe(record, result.ok, result.output, t.spec, this.#clock());
            this.#records.set(t.container.id, next);
            if (next.health !== record.health) this.#onChange(t.appId);
          } finally {
            this.#running.delete(t.container.id);
          }
        }),
    );
  }
}
