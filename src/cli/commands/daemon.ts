/**
 * `archy daemon`: runs the platform daemon. It never runs as root: started by root, it re-executes
 * itself as the dedicated service user that host setup creates (from a copy of the code that user
 * can read, when the checkout is private), and says so.
 */
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../daemon/config.ts";
import { DaemonStartError, runDaemon } from "../../daemon/daemon.ts";
import { SERVICE_USER } from "../../host/layout.ts";
import { BackendUnavailable } from "../../runtime/backend-choice.ts";
import { CODE_ROOT, RUNNABLE_ENTRIES } from "../../system/code-root.ts";
import { parseCommandLine, UsageError } from "../args.ts";

export const DAEMON_USAGE = `Usage: archy daemon [--data-dir DIR] [--listen HOST:PORT] [--apps-dir DIR] [--config FILE]
                    [--backend auto|podman|quadlet] [--podman-socket PATH]
                    [--node-name NAME] [--tls on|off] [--tls-cert FILE --tls-key FILE]
                    [--interface-ports FIRST-LAST|off] [--mdns on|off]

Runs the Archipelago daemon: the JSON-RPC API (POST /rpc/v1), live events (/ws/v1) and metrics
(/metrics), every app's interfaces at <app>.<node name> behind the operator's login, and the
reconciler that keeps every app in the state its operator asked for.

  --data-dir DIR       state and app data (ARCHY_DATA_DIR; default ~/.local/share/archipelago)
  --listen HOST:PORT   where the API listens (ARCHY_LISTEN; default 127.0.0.1:7780)
  --apps-dir DIR       local app manifests offered for install (ARCHY_APPS_DIR)
  --config FILE        a YAML/JSON file with dataDir, listen, appsDir, backend, podmanSocket,
                       resyncSeconds, logLevel (ARCHY_CONFIG)
  --backend            how new containers are created (ARCHY_BACKEND; default auto): quadlet
                       (units of the user's systemd, which start them at boot), podman (plain
                       containers the daemon starts), or auto: Quadlet where the user's systemd
                       (with linger) and Podman 4.4+ with its Quadlet generator are there, plain
                       Podman elsewhere (the log and system.info say why)
  --podman-socket PATH use this Podman API socket; never start a service (ARCHY_PODMAN_SOCKET)
  --node-name NAME     the name apps are reached under, <app>.NAME (ARCHY_NODE_NAME; default
                       localhost, which browsers on the node itself resolve; docs/app-access.md)
  --tls on|off         HTTPS besides HTTP on the same port, with certificates of the node's own
                       authority (ARCHY_TLS; default on; its certificate is served at /ca.crt)
  --tls-cert FILE      serve this certificate chain (PEM) instead, with --tls-key FILE its key
                       (ARCHY_TLS_CERT, ARCHY_TLS_KEY); it must cover NAME and *.NAME
  --interface-ports FIRST-LAST
                       also serve each app interface on a port of its own from this range, behind
                       the same login, for clients that cannot use names (ARCHY_INTERFACE_PORTS;
                       default off; docs/app-access.md#clients-that-cannot-use-names)
  --mdns on|off        publish NAME and <app>.NAME with multicast DNS, NAME ending in .local
                       (ARCHY_MDNS; default off; docs/app-access.md#mdns)

Set only in the environment (or the --config file's key):
  ARCHY_ALLOWED_HOSTS=a.lan,b.lan  (allowedHosts) other names the node's pages, API and peers'
                       fetches answer to, besides its IP addresses, localhost and NAME; any other
                       Host gets 403, the defence against DNS rebinding (docs/app-access.md)
  ARCHY_REDIRECT_HTTP=1 (redirectHttp) send browsers asking for the node's pages over HTTP to
                       HTTPS (default off)
  ARCHY_LOG_LEVEL=LEVEL (logLevel) trace, debug, info, warn or error (default info)

Started as root, the daemon runs as the '${SERVICE_USER}' user. Logs are JSON lines on stdout.`;

const REPO_ROOT = CODE_ROOT;

type Passwd = { uid: number; gid: number; home: string };

function lookupUser(name: string): Passwd | undefined {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  const fields = line?.split(":");
  return fields && fields.length >= 7
    ? { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] as string }
    : undefined;
}

/** A copy of the code the service user can read, when the checkout is private (e.g. under /root). */
function readableCodeRoot(user: Passwd): string {
  const probe = spawnSyncAs(user, ["test", "-r", join(REPO_ROOT, "src", "cli", "main.ts")]);
  if (probe) return REPO_ROOT;
  const staged = "/opt/archipelago/current";
  rmSync(staged, { recursive: true, force: true });
  mkdirSync(staged, { recursive: true, mode: 0o755 });
  // The build (dist, a link into .build/) is copied as what it links to; timestamps are kept so
  // that bin/archy still finds it newer than the sources.
  // `.build` itself is not copied: `dist` is, as what it links to.
  for (const part of RUNNABLE_ENTRIES.filter((entry) => entry !== ".build"))
    if (existsSync(join(REPO_ROOT, part)))
      cpSync(join(REPO_ROOT, part), join(staged, part), {
        recursive: true,
        dereference: part === "dist",
        preserveTimestamps: true,
      });
  return staged;
}

function spawnSyncAs(user: Passwd, argv: string[]): boolean {
  const result = spawnSync(
    "setpriv",
    ["--reuid", String(user.uid), "--regid", String(user.gid), "--init-groups", ...argv],
    { stdio: "ignore" },
  );
  return result.status === 0;
}

/** Re-executes this command as the service user; resolves with its exit code. */
async function dropRoot(argv: string[]): Promise<number> {
  const user = lookupUser(SERVICE_USER);
  if (!user) {
    console.error(
      `archy: the daemon never runs as root, and the service user '${SERVICE_USER}' does not exist: run \`npx archy doctor --fix\` as root first`,
    );
    return 1;
  }
  const runtimeDir = `/run/user/${user.uid}`;
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  spawnSync("chown", [`${user.uid}:${user.gid}`, runtimeDir]);
  const root = readableCodeRoot(user);
  const node = join(root, "node_modules", "node", "bin", "node");
  // bin/archy: the build (or the sources, where the build is stale), with the daemon's Node flags.
  const archy = join(root, "bin", "archy");
  try {
    accessSync(node, constants.X_OK);
  } catch {
    console.error(`archy: the pinned Node.js is missing at ${node}: run \`npm ci\``);
    return 1;
  }
  console.error(
    `archy: started as root; running the daemon as the '${SERVICE_USER}' user (uid ${user.uid}) from ${root}`,
  );
  const env = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: user.home,
    USER: SERVICE_USER,
    LOGNAME: SERVICE_USER,
    XDG_RUNTIME_DIR: runtimeDir,
    LANG: "C.UTF-8",
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("ARCHY_"))),
  };
  const child = spawn(
    "setpriv",
    ["--reuid", String(user.uid), "--regid", String(user.gid), "--init-groups", archy, "daemon", ...argv],
    { stdio: "inherit", env, cwd: "/" },
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) =>
    // As a shell reports it: 128 + the number of the signal that ended the daemon.
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + osConstants.signals[signal] : 1))),
  );
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      "data-dir": { type: "string" },
      listen: { type: "string" },
      "apps-dir": { type: "string" },
      config: { type: "string" },
      backend: { type: "string" },
      "podman-socket": { type: "string" },
      "node-name": { type: "string" },
      tls: { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "interface-ports": { type: "string" },
      mdns: { type: "string" },
    },
    DAEMON_USAGE,
  );
  if (values.help) {
    console.log(DAEMON_USAGE);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${DAEMON_USAGE}`);
  if (process.getuid?.() === 0) return dropRoot(argv);

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ flags: values as Record<string, string>, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  let daemon: Awaited<ReturnType<typeof runDaemon>>;
  try {
    daemon = await runDaemon(config);
  } catch (error) {
    // A backend that cannot run here is a setting to change: one line, no stack.
    if (error instanceof BackendUnavailable) throw new UsageError(error.message);
    if (!(error instanceof DaemonStartError)) throw error;
    console.error(`archy: ${error.message}`);
    return 1;
  }
  console.error(
    `archy: the daemon listens on ${daemon.url}; browsers open ${daemon.browserUrl} (data in ${config.dataDir}); stop it with Ctrl-C`,
  );
  await new Promise<void>((resolve) => {
    // The handlers stay installed: a second signal while stopping is ignored, not fatal. Ctrl-C in
    // a terminal reaches this process twice when root started it (from the terminal, and forwarded
    // by the root parent, which shares the process group), and Node's default action for a signal
    // without a handler would end the process before the graceful stop has finished.
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void daemon.stop().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return 0;
}
