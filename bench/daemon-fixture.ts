/**
 * What the daemon benchmarks share: a store of N installed apps, recorded as `package.install`
 * records them and observed running (the state a reboot leaves); a fake Podman on a unix socket that
 * answers like Podman, after a delay of the benchmark's choosing, with either no containers or every
 * seeded app's container running (so the reconciler finds each app converged and has nothing to
 * do: what an idle node's daemon does all day); and a `package.list` call with the CLI token.
 *
 * The fake stands in for Podman where what is measured is the daemon's own cost (its memory, its
 * CPU between passes, its start), which must not wait on, or be blurred by, a shared Podman with
 * hundreds of containers; the lifecycle benchmark measures the daemon against the real one.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { LABELS, OWNER } from "../src/manifest/naming.ts";

/** One `package.list` call on loopback with the CLI token; the response body. */
export function listCall(port: number, token: string): Promise<string> {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "package.list", params: {} });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/rpc/v1",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A GET on loopback; the response body (e.g. /metrics). */
export function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "GET", path }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** The value of an unlabelled sample (or the sum over a family's samples) in Prometheus text. */
export function metric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(name) && (line[name.length] === " " || line[name.length] === "{"))
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  return total;
}

// ================================================================ the fake Podman

export type FakePodman = {
  path: string;
  /** Requests received and answered so far. */
  received: () => number;
  answered: () => number;
  /** Requests answered with an error (anything the fake does not serve), and the first few of them. */
  refused: () => number;
  refusedExamples: () => string[];
  close: () => Promise<void>;
};

export type FakeContainer = { appId: string; key: string; name: string; image: string };

const INFO = {
  version: { Version: "4.3.1", APIVersion: "4.3.1" },
  host: { security: { rootless: true }, cgroupManager: "cgroupfs", ociRuntime: { name: "runc" } },
  store: { graphDriverName: "overlay" },
};

/**
 * A unix socket that answers like Podman, but only `delayMs` after each request: `_ping`, `info`,
 * the container list (`containers`, each running since an hour, labelled as the platform labels
 * them; none by default), their apps' networks, an event stream that stays open; anything else a
 * 500 error.
 */
export async function startFakePodman(
  dir: string,
  { delayMs = 0, containers = [] }: { delayMs?: number; containers?: readonly FakeContainer[] } = {},
): Promise<FakePodman> {
  const path = join(dir, "podman.sock");
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const startedAt = Math.floor(Date.now() / 1000) - 3600;
  const list = JSON.stringify(
    containers.map((c) => ({
      Id: randomBytes(32).toString("hex"),
      Names: [c.name],
      Image: c.image,
      // No spec-hash label: the planner then takes the container as matching its manifest.
      Labels: { [LABELS.owner]: OWNER, [LABELS.app]: c.appId, [LABELS.container]: c.key },
      State: "running",
      ExitCode: 0,
      Exited: false,
      Created: new Date(startedAt * 1000).toISOString(),
      StartedAt: startedAt,
      ExitedAt: 0,
    })),
  );
  // Each app's network (archy-<id>), as the reconciler inspects it for its subnet.
  const networks = new Map(
    [...new Set(containers.map((c) => c.appId))].map((appId, n) => [
      `archy-${appId}`,
      JSON.stringify({
        name: `archy-${appId}`,
        id: randomBytes(32).toString("hex"),
        dns_enabled: true,
        labels: { [LABELS.owner]: OWNER, [LABELS.app]: appId },
        subnets: [
          { subnet: `10.${100 + (n >> 8)}.${n & 255}.0/24`, gateway: `10.${100 + (n >> 8)}.${n & 255}.1` },
        ],
      }),
    ]),
  );
  let received = 0;
  let answered = 0;
  let refused = 0;
  const examples = new Set<string>();
  const answer = (socket: Socket, method: string, target: string) => {
    const send = (status: number, body: string, type = "application/json") => {
      const text = Buffer.from(body);
      socket.write(`HTTP/1.1 ${status} X\r\nContent-Type: ${type}\r\nContent-Length: ${text.length}\r\n\r\n`);
      socket.write(text);
    };
    if (target.endsWith("/_ping")) send(200, "OK", "text/plain");
    else if (target.endsWith("/info")) send(200, JSON.stringify(INFO));
    else if (target.endsWith("/containers/json")) send(200, list);
    else if (/\/networks\/[^/]+\/json$/.test(target)) {
      const network = networks.get(decodeURIComponent(target.split("/").at(-2) ?? ""));
      if (network) send(200, network);
      else
        send(404, JSON.stringify({ cause: "network not found", message: "no such network", response: 404 }));
    } else if (target.endsWith("/events"))
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    else {
      refused++;
      if (examples.size < 5) examples.add(`${method} ${target}`);
      send(
        500,
        JSON.stringify({
          cause: "benchmark",
          message: "the benchmark's Podman answers nothing else",
          response: 500,
        }),
      );
    }
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      for (let end = buffered.indexOf("\r\n\r\n"); end !== -1; end = buffered.indexOf("\r\n\r\n")) {
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) break;
        buffered = buffered.slice(end + 4 + length);
        const [method = "", url = ""] = head.split(" ");
        const target = url.split("?")[0] ?? "";
        received++;
        const reply = () => {
          if (socket.destroyed) return;
          answered++;
          answer(socket, method, target);
        };
        if (delayMs === 0) reply();
        else {
          const timer = setTimeout(() => {
            timers.delete(timer);
            reply();
          }, delayMs);
          timers.add(timer);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    received: () => received,
    answered: () => answered,
    refused: () => refused,
    refusedExamples: () => [...examples],
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ================================================================ the store

export const BENCH_IMAGE = "localhost/archy-test/busybox:1";

/** A small one-container manifest on the test image (renamed per app), with a TCP health check or none. */
export const benchManifest = (id: string, n: number, health = true) => `manifest: 1
id: ${id}
version: 1.0.${n % 10}
name: Bench App ${n}
description: An app of the daemon benchmarks
category: other
containers:
  web:
    image: ${BENCH_IMAGE}
    command: [httpd, -f, -p, "8080"]
    ports:
      - container: 8080
        host: ${21000 + n}
${
  health
    ? `    health:
      type: tcp
      port: 8080
`
    : ""
}interfaces:
  ui: { container: web, port: 8080, path: / }
`;

/** The id of the n-th seeded app (1-based). */
export const benchAppId = (prefix: string, n: number) => `${prefix}-${String(n).padStart(3, "0")}`;

/**
 * N apps recorded as `package.install` records them, then observed running five minutes ago; their
 * containers as the fake Podman should list them. `health: false` leaves the health check out (a
 * probe needs a real container to run in).
 */
export async function seedStore(
  dataDir: string,
  apps: number,
  { prefix = "boot-app", health = true }: { prefix?: string; health?: boolean } = {},
): Promise<FakeContainer[]> {
  const { parseManifest } = await import("../src/manifest/parse.ts");
  const { Lifecycle } = await import("../src/orchestrator/lifecycle.ts");
  const { ManifestCache } = await import("../src/orchestrator/manifest-cache.ts");
  const { Store } = await import("../src/orchestrator/store.ts");
  const store = new Store(join(dataDir, "state", "store.db"));
  const containers: FakeContainer[] = [];
  try {
    // The daemon that installed the apps parsed each manifest once, and kept the parsed form.
    const manifests = new ManifestCache(store);
    const lifecycle = new Lifecycle({ store, manifests, wake: () => {} });
    const observedAt = Date.now() - 5 * 60_000;
    for (let i = 1; i <= apps; i++) {
      const id = benchAppId(prefix, i);
      const text = benchManifest(id, i, health);
      const parsed = parseManifest(text, `${id}/manifest.yml`);
      if (!parsed.ok) throw new Error(`${id}: ${parsed.issues[0]?.message}`);
      const accepted = lifecycle.install({ text, manifest: parsed.manifest, source: `local:/bench/${id}` });
      manifests.of(store.getApp(id) as NonNullable<ReturnType<typeof store.getApp>>);
      store.setOperationState(accepted.operationId, "succeeded", observedAt);
      store.updateStatus(id, { phase: "running", observedGeneration: 1, attempts: 0 }, observedAt);
      const containerId = randomBytes(32).toString("hex");
      store.saveObservation(id, [
        {
          appId: id,
          key: "web",
          name: id,
          containerId,
          state: "running",
          health: health ? "healthy" : "unknown",
          exitCode: 0,
          restarts: 0,
          startedAt: observedAt - 3_600_000,
          backend: "podman",
          specHash: randomBytes(16).toString("hex"),
          observedAt,
        },
      ]);
      // A one-container app's container is named after the app.
      containers.push({ appId: id, key: "web", name: id, image: BENCH_IMAGE });
    }
  } finally {
    store.close();
  }
  return containers;
}
