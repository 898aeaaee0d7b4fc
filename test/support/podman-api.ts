/**
 * A private libpod REST API for a test: `podman system service` started as the rootless test user
 * on a unique unix socket, and a small JSON client over it (node's http with `socketPath`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { TEST_USER } from "../../src/host/layout.ts";
import { testUserEnv } from "./rootless.ts";

/** The parts of `GET /libpod/containers/{name}/json` the tests read. */
export type ContainerInspect = {
  State: { Running: boolean };
  Config: {
    Labels: Record<string, string>;
    Env: string[];
    User: string;
    StopTimeout: number;
    StopSignal: number;
  };
  EffectiveCaps: string[] | null;
  BoundingCaps: string[] | null;
  HostConfig: {
    CapDrop: string[];
    SecurityOpt: string[];
    ReadonlyRootfs: boolean;
    Tmpfs: Record<string, string>;
    PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  };
  NetworkSettings: { Networks: Record<string, { Aliases: string[]; IPAddress: string; Gateway: string }> };
  Mounts: Array<{ Name?: string; Destination: string }>;
};

export type ApiResponse = { status: number; body: unknown; text: string };

export class PodmanService {
  readonly socket: string;
  #child: ChildProcess | undefined;
  #stderr = "";

  constructor(socket: string) {
    this.socket = socket;
  }

  /** Starts the service and waits until it answers `_ping`. */
  async start(timeoutMs = 20_000): Promise<void> {
    const env = testUserEnv();
    const argv = ["podman", "system", "service", "--time=0", `unix://${this.socket}`];
    const isRoot = process.getuid?.() === 0;
    const [file, args] = isRoot
      ? [
          "runuser",
          ["-u", TEST_USER, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
        ]
      : [argv[0] as string, argv.slice(1)];
    const child = spawn(file, args, { cwd: "/tmp", env, stdio: ["ignore", "ignore", "pipe"] });
    this.#child = child;
    child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`podman system service exited: ${this.#stderr}`);
      if (existsSync(this.socket)) {
        const ping = await this.request("GET", "/_ping").catch(() => undefined);
        if (ping?.status === 200) return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`podman system service did not answer on ${this.socket}: ${this.#stderr}`);
  }

  /** Stops the service (containers it started keep running: they belong to conmon). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    // runuser forwards SIGTERM to podman.
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  }

  /** One API call; a JSON body is sent as JSON, a string as is. */
  request(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          method,
          path: /^\/v\d/.test(path) || path === "/_ping" ? path : `/v4.0.0/libpod${path}`,
          headers:
            payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = text === "" ? undefined : JSON.parse(text);
            } catch {}
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Like `request`, but fails unless the status is 2xx. */
  async ok(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await this.request(method, path, body);
    if (response.status < 200 || response.status >= 300)
      throw new Error(`${method} ${path} → ${response.status}: ${response.text.trim()}`);
    return response.body;
  }
}
