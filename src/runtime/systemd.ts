/**
 * The user's systemd, for the Quadlet backend: `systemctl --user` through a command runner (local
 * by default; the tests run it inside the systemd test node) and the Quadlet unit directory.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
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

export type UnitState = {
  load: string;
  active: string;
  sub: string;
  /** How the unit's last run ended (`success`, `exit-code`, `signal`…). */
  result: string;
  /** The exit status of its main process: for a Quadlet unit, conmon's, which is the container's. */
  exitStatus: number | undefined;
  /** Whether its main process ran since the unit was loaded (else `exitStatus` 0 means nothing). */
  ran: boolean;
};

const UNKNOWN_STATE: UnitState = {
  load: "unknown",
  active: "unknown",
  sub: "unknown",
  result: "unknown",
  exitStatus: undefined,
  ran: false,
};
const SHOWN = [
  "Id",
  "LoadState",
  "ActiveState",
  "SubState",
  "Result",
  "ExecMainStatus",
  "ExecMainStartTimestampMonotonic",
];

/**
 * `systemctl show` of several units: one block of `Key=value` lines per unit, in the order asked,
 * separated by empty lines (the properties within a block come in systemd's order).
 */
export function parseShow(units: readonly string[], stdout: string): Map<string, UnitState> {
  const out = new Map<string, UnitState>();
  const blocks = stdout.trim() === "" ? [] : stdout.trim().split(/\n\s*\n/);
  blocks.forEach((block, index) => {
    const values = new Map<string, string>();
    for (const line of block.split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) values.set(line.slice(0, at), line.slice(at + 1));
    }
    const id = values.get("Id");
    const unit = id !== undefined && units.includes(id) ? id : units[index];
    if (unit === undefined) return;
    const status = Number(values.get("ExecMainStatus"));
    out.set(unit, {
      load: values.get("LoadState") ?? "unknown",
      active: values.get("ActiveState") ?? "unknown",
      sub: values.get("SubState") ?? "unknown",
      result: values.get("Result") ?? "unknown",
      exitStatus: values.has("ExecMainStatus") && Number.isInteger(status) ? status : undefined,
      ran: Number(values.get("ExecMainStartTimestampMonotonic") ?? 0) > 0,
    });
  });
  return out;
}

export class SystemdUser {
  readonly #run: CommandRunner;
  constructor(run: CommandRunner) {
    this.#run = run;
  }

  async #systemctl(args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return this.#run(["systemctl", "--user", ...args], { timeoutMs });
  }

  /**
   * Whether the user's systemd manager answers (a session, or linger) and what it says of itself
   * (`running`, `degraded`, `starting`…, or why it could not be reached).
   */
  async systemState(): Promise<{ answers: boolean; said: string }> {
    const result = await this.#systemctl(["is-system-running"], 10_000);
    const said = result.stdout.trim() || result.stderr.trim().split("\n")[0] || `exit ${result.code}`;
    return { answers: ["running", "degraded", "starting"].includes(result.stdout.trim()), said };
  }

  async daemonReload(): Promise<void> {
    await this.#check(["daemon-reload"], "reload the user's systemd");
  }

  async state(unit: string): Promise<UnitState> {
    return (await this.states([unit])).get(unit) ?? UNKNOWN_STATE;
  }

  /** The states of several units, in one call. */
  async states(units: readonly string[]): Promise<Map<string, UnitState>> {
    if (units.length === 0) return new Map();
    const result = await this.#systemctl(["show", `--property=${SHOWN.join(",")}`, "--", ...units]);
    return parseShow(units, result.stdout);
  }

  /** Forgets a failed unit's failure (and its start rate limit), so that a start is not refused. */
  async resetFailed(unit: string): Promise<void> {
    await this.#systemctl(["reset-failed", unit]);
  }

  /**
   * The last lines a container wrote, from the user's journal (Podman's journald log driver keeps
   * them after a Quadlet unit removed the container); empty when there are none.
   */
  async containerJournal(containerName: string, lines: number): Promise<string> {
    const result = await this.#run(
      [
        "journalctl",
        "--user",
        "--no-pager",
        "-o",
        "cat",
        "-n",
        String(lines),
        `CONTAINER_NAME=${containerName}`,
      ],
      { timeoutMs: 30_000 },
    );
    return result.code === 0 ? result.stdout : "";
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
  /** The content of a file and when it was last written (unix ms); undefined when there is none. */
  read(name: string): Promise<{ content: string; modifiedAt: number } | undefined>;
  /** Removes a file, or a unit's drop-in directory (`name.container.d`) with what it holds. */
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

  async read(name: string): Promise<{ content: string; modifiedAt: number } | undefined> {
    const path = join(this.dir, name);
    try {
      const [content, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
      return { content, modifiedAt: info.mtimeMs };
    } catch {
      return undefined;
    }
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true, recursive: name.endsWith(".d") });
  }

  async list(subdir?: string): Promise<string[]> {
    return readdir(subdir ? join(this.dir, subdir) : this.dir).catch(() => []);
  }
}
