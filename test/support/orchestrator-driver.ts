/**
 * A stand-in daemon for orchestrator tests: runs an Orchestrator over the user's rootless Podman,
 * takes commands as JSON lines on stdin and reports events as JSON lines on stdout. Tests run it
 * as the unprivileged test user and may SIGKILL it at any point (crash tests).
 *
 *   node orchestrator-driver.ts --state DIR --data DIR [--socket PATH | --own-socket PATH]
 *                               [--crash-before KIND:N] [--resync-ms MS]
 *                               [--health-restart-base-ms MS] [--backoff-base-ms MS] [--pull-base-ms MS]
 *                               [--storage-free-bytes N]
 *   --socket: use exactly this Podman service; --own-socket: where to start one when none answers
 *   --storage-free-bytes: Podman's image storage says it has N bytes free (a full disk without filling one)
 *   stdout, first line: {"ready":true,"apps":[…]} from the store, before any Podman call; then
 *   {"podman":{"socketPath","origin","pid"}} once connected.
 *   stdin:  {"id":1,"op":"install","path":"/…/apps/hello-web"} | {"id":2,"op":"stop","app":"hello-web"}
 *           {"id":5,"op":"registry-login","host":"127.0.0.1:5000","username":"u","password":"p"}
 *           {"id":6,"op":"image-export","app":"x","file":"/…/x.tar"} | {"id":7,"op":"image-import","file":"/…/x.tar"}
 *           {"id":8,"op":"peers-add","url":"http://127.0.0.1:9/","token":"archy-peer-…"} | {"id":9,"op":"peers-remove","url":"…"}
 *           {"id":10,"op":"peers-grant","name":"b"} (replies the token) | {"id":11,"op":"peers-revoke","name":"b"}
 *           {"id":3,"op":"list"} | {"id":4,"op":"wait","app":"x","phase":"running","timeoutMs":60000}
 *   stdout: {"reply":1,"ok":true,"result":…} | {"event":{…}}
 */
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { loadManifest } from "../../src/manifest/load.ts";
import { approvalOfAll } from "../../src/orchestrator/approvals.ts";
import { DEFAULT_BACKOFF } from "../../src/orchestrator/backoff.ts";
import { DEFAULT_HEALTH_RESTART_POLICY } from "../../src/orchestrator/health-restarts.ts";
import { LifecycleError } from "../../src/orchestrator/lifecycle.ts";
import { Orchestrator } from "../../src/orchestrator/orchestrator.ts";
import type { Action } from "../../src/orchestrator/planner.ts";
import { Store } from "../../src/orchestrator/store.ts";
import { newPeerToken, peerTokenDigest } from "../../src/peers/peers.ts";
import { exportAppArchive, importAppArchive } from "../../src/registry/app-archive.ts";
import { registryOf } from "../../src/registry/reference.ts";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.ts";
import { connectPodman, defaultRuntimeDir, keepServiceAlive } from "../../src/runtime/service.ts";

const { values } = parseArgs({
  options: {
    state: { type: "string" },
    data: { type: "string" },
    socket: { type: "string" },
    "own-socket": { type: "string" },
    "crash-before": { type: "string" },
    "resync-ms": { type: "string" },
    "health-restart-base-ms": { type: "string" },
    "backoff-base-ms": { type: "string" },
    "pull-base-ms": { type: "string" },
    "storage-free-bytes": { type: "string" },
    "update-margin-ms": { type: "string" },
  },
});
const emit = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);
const log = {
  info: (m: string) => emit({ log: "info", message: m }),
  warn: (m: string) => emit({ log: "warn", message: m }),
  error: (m: string) => emit({ log: "error", message: m }),
};

let seen = 0;
const [crashKind, crashAt] = (values["crash-before"] ?? "").split(":");
const beforeAction = (action: Action) => {
  if (action.kind !== crashKind) return;
  seen++;
  if (seen === Number(crashAt ?? 1)) {
    emit({ crash: action.kind, n: seen });
    process.kill(process.pid, "SIGKILL");
  }
};

// Boot: the last known state first, from the store alone, before any Podman call (a slow or
// restarting Podman never makes the list empty).
const boot = new Store(join(values.state as string, "store.db"));
emit({ ready: true, apps: boot.listApps().map((a) => ({ id: a.id, phase: a.phase, desired: a.desired })) });
boot.close();

const serviceOptions = {
  runtimeDir: defaultRuntimeDir(),
  socketPath: values.socket,
  ownSocketPath: values["own-socket"],
  log: log.info,
};
const connection = await connectPodman(serviceOptions);
emit({ podman: { socketPath: connection.socketPath, origin: connection.origin, pid: connection.pid } });
// A Podman service that goes away (crash, restart) is started again on the same socket.
keepServiceAlive(connection, { ...serviceOptions, log: log.warn });
const runtime = new PodmanRuntime({ client: connection.client, createWith: "podman", log: log.info });
const storageFree = values["storage-free-bytes"];
if (storageFree !== undefined) {
  const real = runtime.imageStorageSpace.bind(runtime);
  runtime.imageStorageSpace = async () => ({ ...(await real()), freeBytes: Number(storageFree) });
}
const orchestrator = new Orchestrator({
  stateDir: values.state as string,
  dataRoot: values.data as string,
  runtime,
  log,
  resyncMs: Number(values["resync-ms"] ?? 30_000),
  ...(values["health-restart-base-ms"]
    ? {
        healthRestarts: {
          ...DEFAULT_HEALTH_RESTART_POLICY,
          baseDelayMs: Number(values["health-restart-base-ms"]),
        },
      }
    : {}),
  ...(values["backoff-base-ms"]
    ? { backoff: { ...DEFAULT_BACKOFF, baseMs: Number(values["backoff-base-ms"]) } }
    : {}),
  onEvent: (event) => emit({ event }),
  ...(values["update-margin-ms"] ? { updateMarginMs: Number(values["update-margin-ms"]) } : {}),
  ...(values["pull-base-ms"]
    ? { pullPolicy: { attempts: 3, baseDelayMs: Number(values["pull-base-ms"]) } }
    : {}),
  beforeAction,
});
orchestrator.start();

async function handle(command: { id: number; op: string; [key: string]: unknown }): Promise<unknown> {
  const { lifecycle, store } = orchestrator;
  const app = command.app as string;
  switch (command.op) {
    case "install":
    case "reinstall":
    case "update":
    case "purge-kept": {
      const loaded = await loadManifest(command.path as string);
      if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("; "));
      const sourced = {
        text: loaded.text,
        manifest: loaded.manifest,
        source: `local:${loaded.dir}`,
        ...(loaded.envFiles ? { envFiles: loaded.envFiles } : {}),
      };
      // The driver stands for the operator who chose these sample apps: it approves what they ask.
      const approve = approvalOfAll(loaded.manifest);
      if (command.op === "purge-kept") return lifecycle.purgeKept(sourced, { force: command.force === true });
      if (command.op === "install") return lifecycle.install(sourced, { approve });
      if (command.op === "update")
        return lifecycle.update(sourced, { force: command.force === true, approve });
      return lifecycle.reinstall(loaded.manifest.id, sourced, { approve });
    }
    case "registry-login":
      return orchestrator.registries.set(
        command.host as string,
        command.username as string,
        command.password as string,
      );
    case "image-export": {
      const source = store.getApp(app)?.source ?? "";
      if (!source.startsWith("local:")) throw new Error(`${app} is not installed from a local directory`);
      const out = createWriteStream(command.file as string, { mode: 0o600 });
      try {
        return await exportAppArchive(source.slice("local:".length), () => out, {
          credentialsFor: (image) => orchestrator.registries.get(registryOf(image)),
          workDir: join(values.state as string, "image-archives"),
        });
      } finally {
        await new Promise((resolve) => out.end(resolve));
      }
    }
    case "peers-add":
      return store.putPeer(command.url as string, command.token as string, Date.now());
    case "peers-remove":
      return store.removePeer(command.url as string);
    case "peers-grant": {
      const token = newPeerToken();
      store.addPeerGrant(command.name as string, peerTokenDigest(token), Date.now());
      return token;
    }
    case "peers-revoke":
      return store.removePeerGrant(command.name as string);
    case "image-import":
      return importAppArchive(command.file as string, {
        workDir: join(values.state as string, "image-archives"),
        placeOf: (id, version) => join(values.state as string, "imported", `${id}-${version}`),
        imagePresent: (image) => runtime.imagePresent(image),
      });
    case "start":
      return lifecycle.start(app);
    case "stop":
      return lifecycle.stop(app);
    case "restart":
      return lifecycle.restart(app);
    case "uninstall":
      return lifecycle.uninstall(app, { purge: command.purge === true, force: command.force === true });
    case "retry":
      return lifecycle.retry(app);
    case "list":
      return store.listApps().map((a) => ({
        id: a.id,
        phase: a.phase,
        desired: a.desired,
        reason: a.reason,
        containers: store.listContainers(a.id),
      }));
    case "operation":
      return {
        operation: store.getOperation(command.operation as string),
        logs: store.operationLogs(command.operation as string),
      };
    case "wait": {
      const deadline = Date.now() + Number(command.timeoutMs ?? 60_000);
      while (Date.now() < deadline) {
        const row = store.getApp(app);
        if ((command.phase === "removed" && !row) || row?.phase === command.phase)
          return row ?? { id: app, phase: "removed" };
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(
        `${app} did not reach ${command.phase}: it is ${store.getApp(app)?.phase ?? "removed"} (${store.getApp(app)?.reason ?? ""})`,
      );
    }
    case "exit":
      await orchestrator.stop();
      process.exit(0);
      return undefined;
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line) as { id: number; op: string };
  handle(command).then(
    (result) => emit({ reply: command.id, ok: true, result }),
    (error) =>
      emit({
        reply: command.id,
        ok: false,
        error: (error as Error).message,
        code: error instanceof LifecycleError ? error.code : undefined,
      }),
  );
}
// stdin closed: whoever drove this daemon is gone (a test runner that died): do not linger.
await orchestrator.stop();
process.exit(0);
