/**
 * Prometheus metrics in the text exposition format: counters and histograms kept in memory, gauges
 * computed at scrape time. Small on purpose: the daemon needs a handful of series.
 */
type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");

export class Counter {
  readonly values = new Map<string, number>();
  readonly name: string;
  readonly help: string;
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  /** Takes the value of a count kept elsewhere (collected at scrape time); it must only grow. */
  set(value: number, labels: Labels = {}): void {
    this.values.set(key(labels), value);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

export class Histogram {
  readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  readonly name: string;
  readonly help: string;
  readonly bounds: number[];
  constructor(name: string, help: string, bounds: number[]) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
  }
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    const entry = this.series.get(k) ?? { buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
    for (const [i, bound] of this.bounds.entries())
      if (value <= bound) entry.buckets[i] = (entry.buckets[i] ?? 0) + 1;
    entry.sum += value;
    entry.count++;
    this.series.set(k, entry);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, entry] of this.series) {
      const prefix = k ? `${k},` : "";
      for (const [i, bound] of this.bounds.entries())
        lines.push(`${this.name}_bucket{${prefix}le="${bound}"} ${entry.buckets[i]}`);
      lines.push(`${this.name}_bucket{${prefix}le="+Inf"} ${entry.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${entry.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${entry.count}`);
    }
    return lines.join("\n");
  }
}

/** The gauges the daemon computes at scrape time (their values come from the store). */
export const GAUGES = {
  apps: { name: "archy_apps", help: "Installed apps by phase." },
  podmanConnected: { name: "archy_podman_connected", help: "1 once the daemon has connected to Podman." },
} as const;

export class Metrics {
  readonly operations = new Counter(
    "archy_operations_total",
    "Lifecycle operations finished, by kind and outcome.",
  );
  readonly operationSeconds = new Histogram(
    "archy_operation_duration_seconds",
    "Time from request to outcome of lifecycle operations.",
    [0.5, 1, 2, 5, 10, 30, 60, 120, 300],
  );
  readonly reconcilePasses = new Counter("archy_reconcile_passes_total", "Full reconcile passes (resyncs).");
  readonly storeWrites = new Counter(
    "archy_store_writes_total",
    "Store statements run that write (INSERT, UPDATE, DELETE); each commits to disk unless inside a transaction.",
  );
  readonly podmanCalls = new Histogram(
    "archy_podman_call_duration_seconds",
    "Latency of Podman API calls, by operation and outcome.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly rpcCalls = new Counter("archy_rpc_calls_total", "JSON-RPC calls, by method and outcome.");
  readonly healthProbes = new Counter(
    "archy_health_probes_total",
    "Health probes the daemon ran, by outcome: pass, fail, or not-run (Podman could not run it).",
  );

  /** Every counter and histogram, in the order they are rendered (and documented). */
  get series(): Array<Counter | Histogram> {
    return [
      this.operations,
      this.operationSeconds,
      this.reconcilePasses,
      this.storeWrites,
      this.podmanCalls,
      this.rpcCalls,
      this.healthProbes,
    ];
  }

  render(
    gauges: Array<{ name: string; help: string; values: Array<{ labels: Labels; value: number }> }>,
  ): string {
    const parts = this.series.map((m) => m.render());
    for (const gauge of gauges) {
      const lines = [`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} gauge`];
      for (const { labels, value } of gauge.values) {
        const k = key(labels);
        lines.push(`${gauge.name}${k ? `{${k}}` : ""} ${value}`);
      }
      parts.push(lines.join("\n"));
    }
    return `${parts.join("\n\n")}\n`;
  }
}
