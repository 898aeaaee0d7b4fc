/**
 * A real daemon process for tests: `archy daemon` as the unprivileged test user, from a copy of the
 * code that user can read (CI runs as root from a folder it may not), its output kept (and recorded
 * for the suite's secrets scan when given a recorder).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { TEST_USER } from "../../src/host/layout.ts";
import { sleep } from "./driver.ts";
import { testUserEnv } from "./rootless.ts";
import type { recordEventStream, ScanRecorder } from "./secret-scan.ts";
import { REPO_ROOT, stageForTestUser } from "./stage.ts";

const isRoot = process.getuid?.() === 0;

/** The daemon process: `archy daemon` as the test user, from a copy of the code that user can read. */
export class DaemonProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Its event stream, recorded for the secrets scan once it answers. */
  events: ReturnType<typeof recordEventStream> | undefined;
  #output = "";

  /** `scan` records its output (and, through `events`, its events) for the suite's secrets scan. */
  constructor(args: string[], scan?: ScanRecorder) {
    const staged = stageForTestUser();
    const argv = [
      staged.node,
      "--disable-warning=ExperimentalWarning",
      join(staged.dir, "src", "cli", "main.ts"),
      "daemon",
      ...args,
    ];
    const env = testUserEnv();
    const [file, fileArgs] = isRoot
      ? [
          "runuser",
          ["-u", TEST_USER, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
        ]
      : [argv[0] as string, argv.slice(1)];
    this.child = spawn(file as string, fileArgs as string[], {
      cwd: "/tmp",
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000);
      scan?.chunk(chunk.toString());
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  get output(): string {
    return this.#output;
  }

  /** SIGTERM to the process group (runuser and the daemon); SIGKILL if it has not exited in 15 s. */
  async stop(): Promise<void> {
    await this.events?.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-(this.child.pid as number), name);
      } catch {}
    };
    signal("SIGTERM");
    const done = await Promise.race([this.exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!done) {
      signal("SIGKILL");
      await this.exited;
    }
  }
}

/** The arguments of a daemon over a lab's apps and Podman service, its data in `dataDir`, on `url`. */
export function labDaemonArgs(
  lab: { manifestsDir: string; service: { socketPath: string } },
  dataDir: string,
  url: string,
): string[] {
  return [
    "--data-dir",
    dataDir,
    "--listen",
    url.slice("http://".length),
    "--apps-dir",
    lab.manifestsDir,
    "--podman-socket",
    lab.service.socketPath,
  ];
}

export const ARCHY = join(REPO_ROOT, "bin", "archy");

export type Run = { code: number; stdout: string; stderr: string };

/** Runs `bin/archy ARGS` (as root in CI: it reads the test user's token file like an operator's sudo). */
export function archy(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 180_000,
  input?: string,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      ARCHY,
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const show = (run: Run) =>
  `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

/** Waits until the daemon at `url` answers and is connected to Podman; says what it saw otherwise. */
export async function daemonConnected(url: string, daemon: DaemonProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = "nothing";
  while (Date.now() < deadline) {
    if (daemon.child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/rpc/v1`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.info", params: {} }),
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await response.json()) as { result?: { backend: string } };
      seen = `backend: ${body.result?.backend}`;
      if (body.result && body.result.backend !== "connecting to Podman") return;
    } catch (error) {
      seen = (error as Error).message;
    }
    await sleep(200);
  }
  throw new Error(
    `the daemon at ${url} is not connected to Podman (last: ${seen})\n--- daemon ---\n${daemon.output}`,
  );
}
