/**
 * `archy daemon`: the store first (the API answers with the last known state at once), then Podman
 * (connected, or its service started), then the reconciler. A graceful shutdown leaves every
 * container running.
 */
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import pino from "pino";
import type { Dispatcher } from "undici";
import { untoldChanges } from "../api/app-list.ts";
import { Auth } from "../api/auth.ts";
import type { ApiContext } from "../api/context.ts";
import { EventLog } from "../api/event-log.ts";
import type { ApiEvent } from "../api/events.ts";
import { registerIconRoutes } from "../api/icons.ts";
import { registerImageArchiveRoutes } from "../api/image-archive-routes.ts";
import type { LoginLimits } from "../api/login-limits.ts";
import { GAUGES, Metrics } from "../api/metrics.ts";
import type { PasswordWork } from "../api/password-work.ts";
import { bearer, createServer, identify } from "../api/server.ts";
import { BackupScheduler } from "../backup/scheduler.ts";
import { Backups } from "../backup/service.ts";
import { Catalogs } from "../catalog/node/catalogs.ts";
import { Marketplace } from "../marketplace/market.ts";
import { unapprovedOf } from "../orchestrator/approvals.ts";
import type { AppPackage } from "../orchestrator/hooks.ts";
import { Orchestrator } from "../orchestrator/orchestrator.ts";
import { localPackage } from "../orchestrator/reconciler.ts";
import type { AppRow } from "../orchestrator/store.ts";
import { registerPeerRoutes } from "../peers/serve.ts";
import { AppAccess } from "../proxy/app-access.ts";
import { registryOf } from "../registry/reference.ts";
import { type BackendChoice, chooseBackend, readQuadletFacts } from "../runtime/backend-choice.ts";
import { memoryLimitsOf } from "../runtime/memory-limits.ts";
import { PodmanRuntime } from "../runtime/podman-runtime.ts";
import { connectPodman, defaultRuntimeDir, keepServiceAlive } from "../runtime/service.ts";
import { LocalUnitStore, localRunner, quadletUserDir, SystemdUser } from "../runtime/systemd.ts";
import { AppsDirListing, type SourceListing } from "../sources/local.ts";
import { CODE_ROOT } from "../system/code-root.ts";
import { fileProblem } from "../system/fs-errors.ts";
import { type DaemonConfig, DEFAULT_ACCESS } from "./config.ts";

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

export type RunningDaemon = {
  /** Where tools reach the API (plain HTTP on the listener). */
  url: string;
  /** Where browsers open the node (HTTPS when the node serves it, under its name). */
  browserUrl: string;
  stop: () => Promise<void>;
  orchestrator: Orchestrator;
};

export type DaemonOptions = {
  /** Where the JSON log lines go (standard output by default). */
  destination?: pino.DestinationStream;
  /** The time of sessions, login back-off and observation ages (tests move it). */
  clock?: () => number;
  /** Login rate limiting (tests pass one with their own settings). */
  loginLimits?: LoginLimits;
  /** The bound on argon2 work (tests pass one to count what it did). */
  passwordWork?: PasswordWork;
  /** Sees every event the daemon publishes (tests record them). */
  onEvent?: (event: ApiEvent) => void;
  /** Whether results are checked against their schemas (default: api/rpc/result-checks.ts decides). */
  checkResults?: boolean;
  /** How publishers' NIP-05 domains are reached (default: public addresses only; tests: loopback). */
  nip05Dispatcher?: Dispatcher;
};

/** How often the list's changes that no event announced are looked for (while anyone listens). */
const LIST_TICK_MS = 1_000;

/** How long to wait before connecting to Podman again after the n-th failed attempt. */
export const reconnectDelayMs = (attempt: number) => Math.min(60_000, 1_000 * 2 ** Math.min(attempt, 6));

export async function runDaemon(config: DaemonConfig, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const clock = options.clock ?? Date.now;
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: "archipelago" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    options.destination,
  );
  // The backend is decided before anything is created: a daemon told to use Quadlet where it
  // cannot stops here, with one line saying what is missing (BackendUnavailable).
  const runtimeDir = defaultRuntimeDir();
  const systemd = new SystemdUser(localRunner(runtimeDir));
  const facts = await readQuadletFacts({ user: userInfo().username, systemd });
  const backend: BackendChoice = chooseBackend(config.backend, facts, config.backendOrigin ?? "backend");
  logger.info({ backend: backend.backend }, `creating new containers with ${backend.reason}`);
  const stateDir = prepareStateDir(config.dataDir);
  const releaseLock = lockStateDir(stateDir);
  const metrics = new Metrics();
  const events = new EventLog();
  let access: AppAccess | undefined;
  const started = clock();
  const publish = (event: ApiEvent) => {
    if (event.type === "operation" && (event.state === "succeeded" || event.state === "failed")) {
      const operation = orchestrator.store.getOperation(event.operationId);
      metrics.operations.inc({ kind: operation?.kind ?? "unknown", outcome: event.state });
      if (operation?.finishedAt)
        metrics.operationSeconds.observe((operation.finishedAt - operation.createdAt) / 1000, {
          kind: operation.kind,
        });
    }
    // An app that changed may route differently (installed, removed, its approvals changed).
    if (event.type === "app") access?.invalidate();
    // The app's new view goes before its operation's end: a client that waits for that end (the
    // CLI) has what the app became when it arrives, without reading it again.
    if (event.type === "operation" && (event.state === "succeeded" || event.state === "failed"))
      tellListChanges();
    emit(event);
  };
  const emit = (event: ApiEvent) => {
    options.onEvent?.(event);
    events.append(event);
  };
  /** Sends the list's changes not told yet (app-list.ts), while anyone listens; set once the API is up. */
  let tellListChanges = () => {};

  // A catalog app's package is its verified files, while the catalog still offers that version;
  // a marketplace app's, its verified bundle unpacked. What hooks copy from either is checked
  // against what was signed at every use.
  const packageOf = (app: Pick<AppRow, "id" | "source" | "version">): AppPackage | undefined =>
    localPackage(app) ?? catalogs.packageOf(app) ?? market.packageOf(app);
  const orchestrator = new Orchestrator({
    stateDir,
    dataRoot: config.dataDir,
    // What the daemon trusts besides its data: an app that could write there would run as it.
    protectedDirs: [
      ...(config.appsDir
        ? [{ path: config.appsDir, what: "the apps directory: other apps' manifests and files" }]
        : []),
      { path: CODE_ROOT, what: "the platform's own code" },
    ],
    resyncMs: config.resyncMs,
    log: {
      info: (message) => logger.info(message),
      warn: (message) => logger.warn(message),
      error: (message) => logger.error(message),
    },
    clock,
    onEvent: publish,
    onProbe: (outcome) => metrics.healthProbes.inc({ outcome }),
    packageOf,
    ...(config.peerImageCacheBytes !== undefined ? { peerImageCacheBytes: config.peerImageCacheBytes } : {}),
  });
  const backupMinIntervalMs = config.backupMinIntervalMs ?? 60_000;
  const backups = new Backups({
    orchestrator,
    dataRoot: config.dataDir,
    publish,
    clock,
    minIntervalMs: backupMinIntervalMs,
  });
  // Before the API serves: a backup a dead daemon left running is failed, its app runs again.
  await backups.recover();
  const backupScheduler = new BackupScheduler({
    backups,
    orchestrator,
    clock,
    tickMs: Math.min(30_000, backupMinIntervalMs),
    log: (level, message) => logger[level](message),
  });
  backupScheduler.start();
  const auth = new Auth({
    store: orchestrator.store,
    cliTokenFile: join(stateDir, "cli-token"),
    clock,
    limits: options.loginLimits,
    work: options.passwordWork,
  });
  // A new CLI token at every start: one that leaked stops working with the next restart.
  await auth.rotateCliToken();

  const accessConfig = config.access ?? DEFAULT_ACCESS;
  const appAccess = await AppAccess.create({
    config: accessConfig,
    stateDir,
    auth,
    apps: () =>
      orchestrator.store.listApps().flatMap((row) => {
        const manifest = orchestrator.manifests.of(row).manifest;
        if (!manifest) return [];
        const unapproved = unapprovedOf(manifest, orchestrator.store.approvals(row.id));
        return [{ id: row.id, manifest, unapproved: new Set(unapproved.map((p) => p.name)) }];
      }),
    extraNames: config.allowedHosts,
    logger,
    clock,
  });
  access = appAccess;

  const catalogs = new Catalogs({
    sources: config.catalogs,
    stateDir: join(config.dataDir, "catalogs"),
    refreshMs: config.catalogRefreshMs,
    log: { info: (message) => logger.info(message), warn: (message) => logger.warn(message) },
    clock,
  });
  await catalogs.start();

  const market: Marketplace = new Marketplace({
    store: orchestrator.store,
    dir: join(config.dataDir, "marketplace"),
    log: { info: (message) => logger.info(message), warn: (message) => logger.warn(message) },
    clock,
    refreshMs: config.marketRefreshMs,
    installed: () => orchestrator.store.listApps(),
    peers: () => orchestrator.store.peers(),
    ...(options.nip05Dispatcher ? { nip05Dispatcher: options.nip05Dispatcher } : {}),
  });
  await market.start();

  const appsDir =
    config.appsDir === undefined
      ? undefined
      : new AppsDirListing(config.appsDir, {
          clock,
          onRead: (listing) => {
            for (const rejected of listing.rejected)
              logger.warn(
                { dir: rejected.dir, problems: rejected.issues.length },
                `invalid manifest in ${rejected.dir}: ${rejected.issues[0]?.message}`,
              );
          },
        });
  const sources = async (options?: { currentFor?: string }): Promise<SourceListing> => {
    const local = !appsDir
      ? { apps: [], rejected: [] }
      : options?.currentFor === undefined
        ? await appsDir.list()
        : await appsDir.current(options.currentFor);
    return catalogs.merge(local);
  };

  const contextFor = (call: ApiContext["call"]): ApiContext => ({
    orchestrator,
    auth,
    sources,
    catalogs,
    market,
    backups,
    version: VERSION,
    backendReason: backend.reason,
    startedAt: started,
    dataDir: config.dataDir,
    podmanVersion: () => podmanVersion,
    clock,
    publish,
    interfaceUrl: (appId, manifest, name) => appAccess.interfaceUrl(appId, manifest, name),
    call,
  });
  // The list's changes are the daemon's own words, not a caller's: a context without a caller.
  const daemonContext = contextFor({
    client: "daemon",
    sessionToken: undefined,
    deviceCookie: undefined,
    cliToken: false,
    setSession: () => {},
  });
  const tellUntold = () => {
    // Telling is a courtesy to listeners: a failure of it never reaches what published the event.
    let changes: ApiEvent[];
    try {
      changes = untoldChanges(daemonContext);
    } catch (error) {
      logger.error({ err: error }, "could not tell the app list's changes");
      return;
    }
    for (const change of changes) emit(change);
  };
  tellListChanges = () => {
    if (events.listening) tellUntold();
  };
  // A new listener first gets what was not told (and the first one sets what was).
  events.onSubscribe = tellUntold;
  // What no event announces (an observation, an alert that came due, an approval) is told within
  // a second; a tick costs a comparison while the store has not moved (app-list.ts keeps the views).
  const listTicker = setInterval(() => tellListChanges(), LIST_TICK_MS);
  listTicker.unref();

  const server = await createServer({
    auth,
    metrics,
    logger,
    tls: false,
    clock,
    checkResults: options.checkResults,
    // The node's own name is always its own (app hosts never reach the API: the front door routes them).
    allowedHosts: [...config.allowedHosts, accessConfig.nodeName],
    front: { serverFactory: appAccess.front.serverFactory, upgrades: appAccess.front.apiUpgrades },
    events,
    webRoot: join(CODE_ROOT, "web", "dist"),
    context: contextFor,
    gauges: () => {
      // The reconciler counts its passes; the counter takes that count at scrape time.
      metrics.reconcilePasses.set(orchestrator.started ? orchestrator.reconciler.passes : 0);
      metrics.storeWrites.set(orchestrator.store.writes);
      const byPhase = new Map<string, number>();
      for (const app of orchestrator.store.listApps())
        byPhase.set(app.phase, (byPhase.get(app.phase) ?? 0) + 1);
      return [
        {
          ...GAUGES.apps,
          values: [...byPhase].map(([phase, value]) => ({ labels: { phase }, value })),
        },
        {
          ...GAUGES.podmanConnected,
          values: [{ labels: {}, value: orchestrator.started ? 1 : 0 }],
        },
      ];
    },
  });
  appAccess.registerRoutes(server);
  registerImageArchiveRoutes(server, {
    authorized: (request) => auth.cliTokenMatches(bearer(request)),
    packageDirOf: (appId) => {
      const row = orchestrator.store.getApp(appId);
      return row ? packageOf(row)?.dir : undefined;
    },
    credentialsFor: (image) => orchestrator.registries.get(registryOf(image)),
    imagePresent: (image) => orchestrator.runtime.imagePresent(image),
    podmanReady: () => orchestrator.started,
    appsDir: config.appsDir,
    workDir: join(config.dataDir, "image-archives"),
  });
  registerIconRoutes(server, {
    authorized: (request) => identify(request, auth).authenticated,
    // The app installed from that source, else the one it offers: its manifest and verified package.
    packageOf: async (id, source) => {
      const row = orchestrator.store.getApp(id);
      if (row?.source === source) {
        const manifest = orchestrator.manifests.of(row).manifest;
        const pkg = packageOf(row);
        return manifest && pkg ? { ...pkg, manifest } : undefined;
      }
      const app = (await sources()).apps.find((a) => a.id === id && a.source === source);
      const pkg = app && packageOf({ id, source, version: app.manifest.version });
      return app && pkg ? { ...pkg, manifest: app.manifest } : undefined;
    },
  });
  registerPeerRoutes(server, {
    store: orchestrator.store,
    bundleFile: (sha256) => market.bundleFile(sha256),
    images: orchestrator.peerImages,
    log: { info: (message) => logger.info(message), warn: (message) => logger.warn(message) },
  });
  await server.ready();
  const port = await appAccess.listen(config.listen.host, config.listen.port);
  const url = `http://${config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host}:${port}`;
  const browserUrl = appAccess.nodeUrl;
  logger.info(
    {
      url,
      browserUrl,
      dataDir: config.dataDir,
      appsDir: config.appsDir,
      apps: orchestrator.store.listAppHeads().length,
    },
    `listening on ${url}${accessConfig.tls ? " (HTTP and HTTPS)" : ""}; browsers open ${browserUrl}, apps at ${appAccess.scheme}://<app>.${accessConfig.nodeName}:${port}/`,
  );

  // Podman: connect (or start its service), then reconcile. Until then, and whenever an attempt
  // fails, the API serves the last known state and the daemon tries again with a growing delay. A
  // stop does not wait for an attempt in flight (a Podman that does not answer must not hold up
  // shutdown): the attempt sees `stopping` and lets go of what it got.
  let keeper: ReturnType<typeof keepServiceAlive> | undefined;
  let podmanVersion: string | undefined;
  let stopping = false;
  let cancelWait: (() => void) | undefined;
  const connectOnce = async (): Promise<void> => {
    const connection = await connectPodman({
      runtimeDir,
      socketPath: config.podmanSocket,
      log: (m) => logger.info(m),
    });
    if (stopping) {
      await connection.client.close();
      return;
    }
    const attemptKeeper = keepServiceAlive(connection, { runtimeDir, log: (m) => logger.info(m) });
    try {
      const info = await connection.client.info();
      if (stopping) throw new Error("stopping");
      connection.client.observe((call) =>
        metrics.podmanCalls.observe(call.durationMs / 1000, {
          operation: call.operation,
          outcome: call.outcome,
        }),
      );
      logger.info(
        `Podman ${info.version} (${info.ociRuntime}, ${info.graphDriver}); new containers: ${backend.backend === "quadlet" ? "Quadlet units" : "plain Podman"}`,
      );
      const memoryLimits = memoryLimitsOf(info);
      if (!memoryLimits.enforced) logger.warn(`memory limits of apps are not enforced: ${memoryLimits.why}`);
      // The user's systemd serves every backend: Quadlet containers found on the node (labelled
      // by their unit) are stopped, started and removed through it, whatever creates new ones.
      const units = facts.userSystemd.answers
        ? { systemd, units: new LocalUnitStore(quadletUserDir(homedir())) }
        : {};
      orchestrator.start(
        new PodmanRuntime({
          client: connection.client,
          createWith: backend.backend,
          memoryLimits,
          ...units,
          log: (m) => logger.info(m),
        }),
      );
      keeper = attemptKeeper;
      podmanVersion = info.version;
      logger.info(`connected to Podman on ${connection.socketPath} (${connection.origin}); reconciling`);
    } catch (error) {
      attemptKeeper.stop();
      await connection.client.close().catch(() => {});
      throw error;
    }
  };
  void (async () => {
    for (let attempt = 0; !stopping; attempt++) {
      try {
        await connectOnce();
        return;
      } catch (error) {
        if (stopping) return;
        const delay = reconnectDelayMs(attempt);
        logger.error(
          { err: error },
          `cannot connect to Podman: ${(error as Error).message}; the API keeps serving the last known state; trying again in ${Math.round(delay / 1000)} s`,
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          cancelWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        cancelWait = undefined;
      }
    }
  })();

  return {
    url,
    browserUrl,
    orchestrator,
    stop: async () => {
      clearInterval(listTicker);
      stopping = true;
      cancelWait?.();
      await appAccess.close();
      await server.close();
      await catalogs.stop();
      await market.stop();
      keeper?.stop();
      await Promise.all([backupScheduler.stop(), backups.stop()]);
      await orchestrator.stop();
      releaseLock();
      logger.info("stopped; app containers keep running");
    },
  };
}

/** The daemon cannot start as configured: the message names what and the fix, in one line. */
export class DaemonStartError extends Error {
  override name = "DaemonStartError";
}

/** The data directory's `state/`, made if need be, once it is known this user can write it. */
function prepareStateDir(dataDir: string): string {
  const stateDir = join(dataDir, "state");
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    accessSync(stateDir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    const user = userInfo().username;
    throw new DaemonStartError(
      `the data directory ${dataDir} cannot be used by the user '${user}' the daemon runs as: ${fileProblem(error)}; make it that user's (as root: mkdir -p ${dataDir} && chown -R ${user}: ${dataDir}) or pass a --data-dir it can write (by default ~${user}/.local/share/archipelago)`,
    );
  }
  return stateDir;
}

/**
 * One daemon per data directory: two would reconcile the same apps against each other. The lock is
 * a pid file created exclusively; one left by a daemon that died (its pid is gone) is taken over.
 */
export function lockStateDir(stateDir: string): () => void {
  const path = join(stateDir, "daemon.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder))
        throw new DaemonStartError(
          `another Archipelago daemon (pid ${holder}) is already using ${dirname(stateDir)}: stop it first, or use another --data-dir`,
        );
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock ${stateDir}`);
}

/** Whether a process runs (a zombie — killed, not yet reaped by its parent — does not). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}
