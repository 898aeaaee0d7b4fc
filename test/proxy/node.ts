/**
 * A real node for the app-access tests: `archy daemon` started as the rootless test user (from a
 * copy of the code it can read), on a Podman service of its own, with the sample hello-web and two
 * test apps in its apps directory — a WebSocket echo server and a web server with a 1 GiB file and
 * a CGI script that prints what it received — every id and name under a prefix of the run, every
 * host port free. `close()` removes exactly what carries the prefix.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import { type DaemonControl, startManagedDaemon } from "../../src/gate/daemon-process.ts";
import { isolateManifest } from "../../src/gate/isolate.ts";
import { TEST_IMAGE, TEST_USER } from "../../src/host/layout.ts";
import { PASSWORD } from "../api/support.ts";
import { makeHostRoot } from "../support/host-root.ts";
import { startPodmanService, type TestPodmanService } from "../support/podman-service.ts";
import { podman, testUser } from "../support/rootless.ts";
import { APPS_DIR, freePort, runPrefix } from "../support/samples.ts";
import { stageForTestUser } from "../support/stage.ts";

const isRoot = process.getuid?.() === 0;
const FIXTURES = join(import.meta.dirname, "../fixtures/proxy-apps");

export type TestNode = {
  prefix: string;
  daemon: DaemonControl;
  /** The daemon's port (HTTP and HTTPS). */
  port: number;
  dataDir: string;
  /** The CLI token: full access to the API. */
  bearer: string;
  ids: { hello: string; echo: string; big: string };
  /** Host ports by app id (its interface's port). */
  ports: Record<string, number>;
  /** A port of the big app published on every address on purpose (not an interface's). */
  controlPort: number;
  /** A JSON-RPC call with the CLI token; throws with the error. */
  api: (method: string, params?: unknown) => Promise<unknown>;
  /** The daemon's process id, for its memory. */
  pid: () => number;
  /**
   * Each time the daemon exited without the test asking (then it is started again, as systemd
   * would): how it ended (its signal or exit code) and its last words. A test that loses the
   * daemon says this, not only ECONNREFUSED.
   */
  incidents: string[];
  close: () => Promise<void>;
};

/** The big app: busybox httpd over a sparse 1 GiB file, a public folder and a CGI script printing its environment. */
function bigApp(id: string, port: number, controlPort: number): string {
  const script = [
    "mkdir -p /tmp/www/cgi-bin /tmp/www/pub",
    "busybox truncate -s 1G /tmp/www/big",
    "busybox truncate -s 64M /tmp/www/warm",
    "echo public > /tmp/www/pub/file.txt",
    "echo private > /tmp/www/private.txt",
    `printf '#!/bin/sh\\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n"\\nenv\\n' > /tmp/www/cgi-bin/env`,
    "chmod 755 /tmp/www/cgi-bin/env",
    "(httpd -f -p 9000 -h /tmp/www &)",
    "exec serve",
  ].join(" && ");
  return `manifest: 1
id: ${id}
version: 1.0.0
name: Big download
description: A 1 GiB file, a public folder and a CGI script, served by busybox httpd
containers:
  web:
    image: ${TEST_IMAGE}
    entrypoint: [/bin/sh, -c]
    command: [${JSON.stringify(script)}]
    environment: { PORT: 8080, WWW: /tmp/www }
    ports:
      - { container: 8080, host: ${port} }
      - { container: 9000, host: ${controlPort}, bind: 0.0.0.0 }
    read_only: true
    tmpfs: [/tmp]
    stop_timeout: 5s
interfaces:
  ui: { container: web, port: 8080, public_paths: [/pub/] }
  open: { container: web, port: 8080, auth: none }
`;
}

function echoApp(id: string, port: number): string {
  return `manifest: 1
id: ${id}
version: 1.0.0
name: WebSocket echo
description: Echoes WebSocket messages
containers:
  web:
    image: ${TEST_IMAGE}
    entrypoint: [/bin/sh, -c]
    command: ["trap 'exit 0' TERM; nc -ll -p 8080 -e sh /data/ws-echo-session & wait"]
    ports:
      - { container: 8080, host: ${port} }
    volumes:
      - { name: code, path: /data }
    read_only: true
    stop_timeout: 5s
interfaces:
  ui: { container: web, port: 8080 }
hooks:
  post_install:
    - copy_from_host: { from: files/ws-echo-session, container: web, to: /data/ws-echo-session }
`;
}

/** The sample hello-web under the prefix, its interface's port left to the default bind (no `bind`). */
function helloApp(prefix: string, id: string, port: number, hostRoot: string): string {
  const original = readFileSync(join(APPS_DIR, "hello-web", "manifest.yml"), "utf8");
  const isolated = isolateManifest(original, {
    prefix,
    ids: { "hello-web": id },
    ports: { "web/8080/tcp": port },
    hostRoot,
    device: "/dev/null",
  });
  const doc = parseDocument(isolated.text);
  for (const port of (doc.getIn(["containers", "web", "ports"]) as YAMLSeq<YAMLMap>).items)
    port.delete("bind");
  return doc.toString();
}

/** JSON-RPC over the daemon's URL: the result, or an error naming the method and the refusal. */
export async function callApi(
  url: string,
  method: string,
  params: unknown,
  bearer?: string,
): Promise<unknown> {
  const response = await fetch(`${url}/rpc/v1`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function waitRunning(
  api: (method: string, params: unknown) => Promise<unknown>,
  id: string,
): Promise<void> {
  const deadline = Date.now() + 240_000;
  let last: unknown;
  while (Date.now() < deadline) {
    const app = (await api("package.get", { id })) as { phase?: string; reason?: string };
    last = app;
    if (app.phase === "running") return;
    if (app.phase === "failed") break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${id} did not reach running; last saw ${JSON.stringify(last)}`);
}

export async function startNode(
  options: { listen?: string; daemonArgs?: readonly string[] } = {},
): Promise<TestNode> {
  const prefix = runPrefix();
  const root = mkdtempSync(`/tmp/archy-px-${prefix}-`);
  chmodSync(root, 0o755);
  const dataDir = join(root, "data");
  const appsDir = join(root, "apps");
  mkdirSync(dataDir, { mode: 0o700 });
  if (isRoot) chownSync(dataDir, testUser.uid, testUser.gid);
  const ids = { hello: `${prefix}-hello-web`, echo: `${prefix}-ws-echo`, big: `${prefix}-big` };
  const ports = { [ids.hello]: await freePort(), [ids.echo]: await freePort(), [ids.big]: await freePort() };
  const controlPort = await freePort();
  const write = (id: string, text: string) => {
    mkdirSync(join(appsDir, id), { recursive: true, mode: 0o755 });
    writeFileSync(join(appsDir, id, "manifest.yml"), text, { mode: 0o644 });
  };
  // hello-web takes over legacy data: a host path, which may only be under /mnt, /media or /srv.
  const hostRoot = makeHostRoot(`px-${prefix}`);
  write(ids.hello, helloApp(prefix, ids.hello, ports[ids.hello] as number, hostRoot));
  cpSync(join(APPS_DIR, "hello-web", "files"), join(appsDir, ids.hello, "files"), { recursive: true });
  cpSync(join(APPS_DIR, "hello-web", "icon.svg"), join(appsDir, ids.hello, "icon.svg"));
  write(ids.echo, echoApp(ids.echo, ports[ids.echo] as number));
  mkdirSync(join(appsDir, ids.echo, "files"), { mode: 0o755 });
  cpSync(join(FIXTURES, "ws-echo", "ws-echo-session"), join(appsDir, ids.echo, "files", "ws-echo-session"));
  write(ids.big, bigApp(ids.big, ports[ids.big] as number, controlPort));
  for (const dir of [appsDir, join(appsDir, ids.hello, "files")]) chmodSync(dir, 0o755);
  chmodSync(join(appsDir, ids.echo, "files", "ws-echo-session"), 0o644);

  const service: TestPodmanService = await startPodmanService(`px-${prefix}`);
  const staged = stageForTestUser();
  const port = await freePort();
  const user = { name: TEST_USER, uid: testUser.uid, gid: testUser.gid, home: testUser.home };
  let daemon: DaemonControl | undefined;
  const incidents: string[] = [];
  const cleanup = async () => {
    for (const id of Object.values(ids)) {
      const containers = (
        await podman(["ps", "-a", "-q", "--filter", `label=io.archipelago.app=${id}`]).catch(() => "")
      )
        .split("\n")
        .filter(Boolean);
      if (containers.length > 0) await podman(["rm", "-f", "-t", "0", ...containers]).catch(() => "");
      await podman(["network", "rm", "-f", `archy-${id}`]).catch(() => "");
      const volumes = (await podman(["volume", "ls", "-q", "--filter", `name=archy-${id}`]).catch(() => ""))
        .split("\n")
        .filter(Boolean);
      if (volumes.length > 0) await podman(["volume", "rm", "-f", ...volumes]).catch(() => "");
    }
  };
  try {
    daemon = await startManagedDaemon({
      user,
      codeRoot: staged.dir,
      dataDir,
      appsDir,
      listen: { host: options.listen ?? "127.0.0.1", port },
      ...(options.daemonArgs ? { extraArgs: options.daemonArgs } : {}),
      podmanSocket: service.socketPath,
      logFile: join(root, "daemon.log"),
      bootTimeoutMs: 120_000,
      onIncident: (message) => {
        incidents.push(message);
        console.error(`test node ${prefix}: ${message}`);
      },
    });
    assert.equal(Number(new URL(daemon.url).port), port);
    const bearer = readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim();
    const url = daemon.url;
    const api = (method: string, params: unknown = {}) => callApi(url, method, params, bearer);
    await callApi(url, "auth.setup", { password: PASSWORD });
    await api("package.install", { id: ids.hello });
    await api("package.install", { id: ids.echo });
    await api("package.install", {
      id: ids.big,
      approve: [
        { name: "interface.open", content: "open-interface open" },
        { name: "interface.ui", content: "public-paths ui /pub/" },
      ],
    });
    for (const id of Object.values(ids)) await waitRunning(api, id);
    const running = daemon;
    return {
      prefix,
      daemon: running,
      port,
      dataDir,
      bearer,
      ids,
      ports,
      controlPort,
      api,
      pid: () => Number(readFileSync(join(dataDir, "state", "daemon.pid"), "utf8").trim()),
      incidents,
      close: async () => {
        await running.close();
        await cleanup();
        await service.close();
        for (const dir of [root, hostRoot]) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    const log = (() => {
      try {
        return readFileSync(join(root, "daemon.log"), "utf8").slice(-3000);
      } catch {
        return "";
      }
    })();
    await daemon?.close();
    await cleanup();
    await service.close();
    for (const dir of [root, hostRoot]) rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\ndaemon log:\n${log}`);
  }
}
