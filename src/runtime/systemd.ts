/**
 * The user's systemd, for the Quadlet backend: `systemctl --user` through a command runner (local
 * by default; the tests run it inside the systemd test node) and the Quadlet unit directory.
 */
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type ExecResult, exec } from "../system/exec.ts";

export type CommandRunner = (
  argv: string[],
  options?: { timeoutMs?: number; input?: string },
) => Promise<ExecResult>;

/** Runs commands on this machine, as this process's user, with the user's systemd environment. */
export function localRunner(runtimeDir: string): CommandRunner {
  const env = { XDG_RUNTIME_DIR: runtimeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${runtimeDir}/bus` };
  return ([file, ...args], options = {}) => exec(file as string, args, { ...options, env });
}

export type UnitState = { load: string; active: string; sub: string };

export class SystemdUser {
  readonly #run: CommandRunner;
  constructor(run: CommandRunner) {
    this.#run = run;
  }

  async #systemctl(args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return this.#run(["systemctl", "--user", ...args], { timeoutMs });
  }

  /** Whether a user systemd answers (a session or linger), i.e. whether Quadlet units can run. */
  async available(): Promise<boolean> {
    const result = await this.#systemctl(["is-system-running"], 10_000);
    return ["running", "degraded", "starting"].includes(result.stdout.trim());
  }

  async daemonReload(): Promise<void> {
    await this.#check(["daemon-reload"], "reload the user's systemd");
  }

  async state(unit: string): Promise<UnitState> {
    const result = await this.#systemctl(["show", "--property=LoadState,ActiveState,SubState", unit]);
    const values = Object.fromEntries(
      result.stdout
        .trim()
        .split("\n")
        .map((line) => line.split("=", 2) as [string, string]),
    );
    return {
      load: values.LoadState ?? "unknown",
      active: values.ActiveState ?? "unknown",
      sub: values.SubState ?? "unknown",
    };
  }

  /** Starts a unit and waits for the job: for a Quadlet container, until Podman has started it. */
  async start(unit: string, timeoutMs = 120_000): Promise<void> {
    await this.#check(["start", unit], `start ${unit}`, timeoutMs);
  }

  async stop(unit: string, timeoutMs = 120_000): Promise<ExecResult> {
    return this.#systemctl(["stop", unit], timeoutMs);
  }

  async #check(args: string[], what: string, timeoutMs?: number): Promise<void> {
    const result = await this.#systemctl(args, timeoutMs);
    if (result.code !== 0)
      throw new Error(
        `systemctl --user ${args.join(" ")}: could not ${what}: ${result.stderr.trim() || `exit ${result.code}`}`,
      );
  }
}

/** Where Quadlet reads a user's units. */
export function quadletUserDir(home: string): string {
  return join(home, ".config", "containers", "systemd");
}

/**
 * The Quadlet unit directory: files the platform writes and removes, all named after their app;
 * names may be drop-ins of a unit (`name.container.d/NN-what.conf`).
 */
export interface UnitStore {
  write(name: string, content: string): Promise<void>;
  remove(name: string): Promise<void>;
  /** The files of the directory, or of one of its subdirectories (a unit's drop-ins). */
  list(subdir?: string): Promise<string[]>;
}

export class LocalUnitStore implements UnitStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async write(name: string, content: string): Promise<void> {
    const path = join(this.dir, name);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.tmp-${process.pid}`;
    await writeFile(temporary, content, { mode: 0o644 });
    await rename(temporary, path);
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
  }

  async list(subdir?: string): Promise<string[]> {
    return readdir(subdir ? join(this.dir, subdir) : this.dir).catch(() => []);
  }
}
