/**
 * `archy daemon`: the store first (the API answers with the last known state at once), then Podman
 * (connected, or its service started), then the reconciler. A graceful shutdown leaves every
 * container running.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { Auth } from "../api/auth.ts";
import type { ApiContext } from "../api/methods.ts";
import { Metrics } from "../api/metrics.ts";
import { createServer } from "../api/server.ts";
import { Orchestrator } from "../orchestrator/orchestrator.ts";
import type { ReconcilerEvent } from "../orchestrator/reconciler.ts";
import { Runtime } from "../runtime/runtime.ts";
import { connectPodman, defaultRuntimeDir, keepServiceAlive } from "../runtime/service.ts";
import { loadAppsDir, type SourceListing } from "../sources/local.ts";
import type { DaemonConfig } from "./config.ts";

export const VERSION = "0.1.0";

/** Log fields that may carry credentials; their values never reach the log. */
export const REDACTED_PATHS = [
  "password",
  "*.password",
  "token",
  "*.token",
  "csrfToken",
  "*.csrfToken",
  "secret",
  "*.secret",
  "req.headers.cookie",
  "req.headers.authorization",
  'req.headers["x-csrf-token"]',
];

export type RunningDaemon = { url: string; stop: () => Promise<void>; orchestrator: Orchestrator };

export async function runDaemon(
  config: DaemonConfig,
  options: { destination?: pino.DestinationStream } = {},
): Promise<RunningDaemon> {
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: "archipelago" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    options.destination,
  );
  const stateDir = join(config.dataDir, "state");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const metrics = new Metrics();
  const listeners = new Set<(event: ReconcilerEvent) => void>();
  const started = Date.now();

  const orchestrator = new Orchestrator({
    stateDir,
    dataRoot: config.dataDir,
    resyncMs: config.resyncMs,
    log: {
      info: (message) => logger.info(message),
      warn: (message) => logger.warn(message),
      error: (message) => logger.error(message),
    },
    onEvent: (event) => {
      if (event.type === "operation" && event.state !== "running") {
        const operation = orchestrator.store.getOperation(event.operationId);
        metrics.operations.inc({ kind: operation?.kind ?? "unknown", outcome: event.state });
        if (operation?.finishedAt)
          metrics.operationSeconds.observe((operation.finishedAt - operation.createdAt) / 1000, {
            kind: operation.kind,
          });
      }
      for (const listener of listeners) listener(event);
    },
  });
  const auth = new Auth({ store: orchestrator.store });
  const tokenFile = join(stateDir, "cli-token");
  await auth.ensureCliToken(tokenFile);

  let cached: { at: number; listing: SourceListing } | undefined;
  const sources = async (): Promise<SourceListing> => {
    if (!config.appsDir) return { apps: [], rejected: [] };
    if (cached && Date.now() - cached.at < 3_000) return cached.listing;
    const listing = await loadAppsDir(config.appsDir);
    for (const rejected of listing.rejected)
      logger.warn(
        { dir: rejected.dir, problems: rejected.issues.length },
        `invalid manifest in ${rejected.dir}: ${rejected.issues[0]?.message}`,
      );
    cached = { at: Date.now(), listing };
    return listing;
  };

  const server = await createServer({
    auth,
    metrics,
    logger,
    tls: false,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    context: (call): ApiContext => ({
      orchestrator,
      auth,
      sources,
      version: VERSION,
      startedAt: started,
      clock: Date.now,
      call,
    }),
    gauges: () => {
      const byPhase = new Map<string, number>();
      for (const app of orchestrator.store.listApps())
        byPhase.set(app.phase, (byPhase.get(app.phase) ?? 0) + 1);
      return [
        {
          name: "archy_apps",
          help: "Installed apps by phase.",
          values: [...byPhase].map(([phase, value]) => ({ labels: { phase }, value })),
        },
        {
          name: "archy_podman_connected",
          help: "1 once the daemon has connected to Podman.",
          values: [{ labels: {}, value: orchestrator.started ? 1 : 0 }],
        },
      ];
    },
  });
  await server.listen({ host: config.listen.host, port: config.listen.port });
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : config.listen.port;
  const url = `http://${config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host}:${port}`;
  logger.info(
    { url, dataDir: config.dataDir, appsDir: config.appsDir, apps: orchestrator.store.listApps().length },
    `listening on ${url}`,
  );

  let keeper: ReturnType<typeof keepServiceAlive> | undefined;
  const connecting = (async () => {
    const runtimeDir = defaultRuntimeDir();
    const connection = await connectPodman({
      runtimeDir,
      socketPath: config.podmanSocket,
      log: (m) => logger.info(m),
    });
    keeper = keepServiceAlive(connection, { runtimeDir, log: (m) => logger.info(m) });
    connection.client.observe((call) =>
      metrics.podmanCalls.observe(call.durationMs / 1000, {
        operation: call.operation,
        outcome: call.outcome,
      }),
    );
    const info = await connection.client.info();
    const backend = config.backend === "quadlet" ? "quadlet" : "podman";
    if (config.backend === "auto")
      logger.info(
        `Podman ${info.version} (${info.ociRuntime}, ${info.graphDriver}); creating containers with the plain Podman backend`,
      );
    orchestrator.start(
      new Runtime({ client: connection.client, createWith: backend, log: (m) => logger.info(m) }),
    );
    logger.info(`connected to Podman on ${connection.socketPath} (${connection.origin}); reconciling`);
  })().catch((error) =>
    logger.error(
      { err: error },
      `cannot connect to Podman: ${(error as Error).message}; the API keeps serving the last known state`,
    ),
  );

  return {
    url,
    orchestrator,
    stop: async () => {
      await server.close();
      await connecting;
      keeper?.stop();
      await orchestrator.stop();
      logger.info("stopped; app containers keep running");
    },
  };
}
