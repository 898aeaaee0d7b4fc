/**
 * The backup tests' node: an `archy daemon` as the test user over a lab, its output, event stream,
 * operation logs, generated secrets and backup repository keys recorded for the suite's secrets
 * scan (test/zz-secrets-scan.test.ts), and restic run by hand as the operator would, with the key.
 */
import { chownSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { archy, DaemonProcess, labDaemonArgs, type Run } from "../support/daemon-process.ts";
import { eventually, type Lab } from "../support/driver.ts";
import { runAsTestUser, testUser } from "../support/rootless.ts";
import { freePort } from "../support/samples.ts";
import { recordEventStream, ScanRecorder } from "../support/secret-scan.ts";

const isRoot = process.getuid?.() === 0;

/** A directory of the test user's (0700). */
export function testUserDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (isRoot) chownSync(path, testUser.uid, testUser.gid);
  return path;
}

/** One node: its data directory, its address, the CLI pointed at it. */
export class BackupNode {
  readonly lab: Lab;
  readonly dataDir: string;
  readonly url: string;
  readonly env: Record<string, string>;
  readonly scan: ScanRecorder;
  /** Arguments the daemon takes beyond the lab's (a config file). */
  readonly #extraArgs: readonly string[];
  daemon: DaemonProcess | undefined;
  /** What this node's daemons before the running one wrote. */
  earlierOutput = "";

  private constructor(lab: Lab, dataDir: string, url: string, extraArgs: readonly string[]) {
    this.lab = lab;
    this.#extraArgs = extraArgs;
    this.dataDir = dataDir;
    this.url = url;
    this.env = { ARCHY_URL: url, ARCHY_TOKEN_FILE: join(dataDir, "state", "cli-token") };
    this.scan = new ScanRecorder("cli-daemon", `${lab.prefix}-${dataDir.split("/").at(-1)}`, {
      secretsRoot: join(dataDir, "state", "secrets"),
      cliTokenFile: join(dataDir, "state", "cli-token"),
      backupTargetsRoot: join(dataDir, "backup", "targets"),
    });
  }

  /** A node with a fresh data directory `name` under the lab, its daemon started (with `extraArgs`). */
  static async start(lab: Lab, name: string, extraArgs: readonly string[] = []): Promise<BackupNode> {
    const node = new BackupNode(
      lab,
      testUserDir(join(lab.root, name)),
      `http://127.0.0.1:${await freePort()}`,
      extraArgs,
    );
    await node.startDaemon();
    return node;
  }

  cli(args: string[], timeoutMs?: number): Promise<Run> {
    return archy(args, this.env, timeoutMs);
  }

  /** Starts the daemon over the same data directory and waits until it answers and sees Podman. */
  async startDaemon(): Promise<DaemonProcess> {
    this.earlierOutput += this.daemon?.output ?? "";
    const started = new DaemonProcess(
      [...labDaemonArgs(this.lab, this.dataDir, this.url), ...this.#extraArgs],
      this.scan,
    );
    this.daemon = started;
    await eventually(
      "the daemon answers and is connected to Podman",
      async () => ((await this.cli(["ls", "--json"], 10_000)).code === 0 ? true : undefined),
      90_000,
    ).catch((error) => {
      throw new Error(`${(error as Error).message}\n--- daemon ---\n${started.output}`);
    });
    const state = join(this.dataDir, "state");
    started.events = recordEventStream(
      this.url,
      readFileSync(join(state, "cli-token"), "utf8").trim(),
      this.scan,
      (e) => {
        if (e.type === "app" && e.phase === "running" && e.appId)
          this.lab.recordPodmanEnv(e.appId, join(state, "store.db"), this.scan);
      },
    );
    await started.events.opened;
    return started;
  }

  /** SIGKILL of the daemon's process group (the daemon and the restic it runs), as a power cut does. */
  async kill(): Promise<void> {
    const daemon = this.daemon;
    if (!daemon) return;
    process.kill(-(daemon.child.pid as number), "SIGKILL");
    await daemon.exited;
    await daemon.events?.close();
  }

  /** Everything this node's daemons wrote to their output. */
  output(): string {
    return `${this.earlierOutput}${this.daemon?.output ?? ""}`;
  }

  /** Stops the daemon and hands what it left (its operation logs, its secrets) to the scan. */
  async close(): Promise<void> {
    await this.daemon?.stop();
    this.scan.storeRecords(join(this.dataDir, "state", "store.db"));
    this.scan.close();
  }

  /** The file of the key this node keeps for a target. */
  keyFile(target: string): string {
    return join(this.dataDir, "backup", "targets", target, "key");
  }

  /**
   * `restic ARGS` run by hand on a directory repository with this node's key, as the daemon's user
   * (inside its user namespace, where the app data's owners exist), with no cache: what an operator
   * sees. Without `--no-lock`, a lock another restic left behind fails it.
   */
  restic(target: string, repository: string, args: string[]): Promise<Run> {
    return runAsTestUser(
      [
        "env",
        `RESTIC_REPOSITORY=${repository}`,
        `RESTIC_PASSWORD_FILE=${this.keyFile(target)}`,
        "podman",
        "unshare",
        "restic",
        "--no-cache",
        ...args,
      ],
      { timeoutMs: 600_000 },
    );
  }
}
