/**
 * Running the gate's long-lived processes (the Podman service, the daemon) as the unprivileged user
 * whose rootless Podman runs the apps: directly when the gate runs as that user, through `setpriv`
 * when it runs as root (the daemon never runs as root). Each process gets a process group of its
 * own (so it can be killed whole, and a Ctrl-C of the gate does not reach it uncontrolled) and a
 * log file. Also: a copy of the code that user can read, when the checkout is private.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { parsePasswd } from "../host/users.ts";
import { RUNNABLE_ENTRIES } from "../system/code-root.ts";
import { exec, type RunAs, userEnv } from "../system/exec.ts";
import { readableCopy } from "../system/readable-copy.ts";

export const isRoot = () => process.getuid?.() === 0;

/** The user named `name` (root only), or the user running the gate. */
export function resolveUser(name: string | undefined): RunAs {
  const passwd = parsePasswd(readFileSync("/etc/passwd", "utf8"));
  if (!isRoot()) {
    const uid = process.getuid?.() ?? -1;
    const me = passwd.find((p) => p.uid === uid);
    if (name !== undefined && me?.name !== name)
      throw new Error(`--user ${name}: only root can run the gate's daemon as another user`);
    return {
      name: me?.name ?? process.env.USER ?? String(uid),
      uid,
      gid: process.getgid?.() ?? uid,
      home: me?.home ?? process.env.HOME ?? "/",
    };
  }
  if (name === undefined) throw new Error("as root, the gate needs --user (the daemon never runs as root)");
  const entry = passwd.find((p) => p.name === name);
  if (!entry)
    throw new Error(`--user ${name}: no such user (run \`archy doctor --fix\` to create the service user)`);
  if (entry.uid === 0)
    throw new Error("--user root: the daemon never runs as root; name an unprivileged user");
  return { name: entry.name, uid: entry.uid, gid: entry.gid, home: entry.home };
}

/** The environment of `user`'s processes; its runtime directory exists (root creates it, as `archy daemon` does). */
export function environmentOf(user: RunAs): Record<string, string> {
  const env = userEnv(user);
  if (isRoot()) {
    mkdirSync(env.XDG_RUNTIME_DIR as string, { recursive: true, mode: 0o700 });
    chownSync(env.XDG_RUNTIME_DIR as string, user.uid, user.gid);
  } else if (process.env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = process.env.XDG_RUNTIME_DIR;
  return env;
}

/** Gives a path the gate created to `user` (root only; a no-op otherwise). */
export function giveTo(user: RunAs, path: string): void {
  if (isRoot()) chownSync(path, user.uid, user.gid);
}

/** Starts `argv` as `user` in a new process group, its output appended to `logFile`. */
export function spawnAs(
  user: RunAs,
  argv: readonly string[],
  logFile: string,
  extraEnv: Record<string, string> = {},
): ChildProcess {
  const env = { ...environmentOf(user), ...extraEnv };
  const [file, ...args] =
    isRoot() && user.uid !== 0
      ? ["setpriv", "--reuid", String(user.uid), "--regid", String(user.gid), "--init-groups", "--", ...argv]
      : [...argv];
  const out = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(file as string, args, { cwd: "/", env, detached: true, stdio: ["ignore", out, out] });
    child.on("error", () => {});
    return child;
  } finally {
    closeSync(out);
  }
}

/** Whether `child` has exited. */
export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal` to the child's process group; resolves true once it exited (false after `waitMs`). */
export async function signalGroup(
  child: ChildProcess,
  signal: NodeJS.Signals,
  waitMs: number,
): Promise<boolean> {
  if (exited(child)) return true;
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {}
  return new Promise((resolve) => {
    if (exited(child)) return resolve(true);
    const timer = setTimeout(() => resolve(exited(child)), waitMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Whether `user` can read `path` (root asks on that user's behalf). */
export async function readableBy(user: RunAs, path: string): Promise<boolean> {
  if (!isRoot() || user.uid === 0) return existsSync(path);
  const probe = await exec("setpriv", [
    "--reuid",
    String(user.uid),
    "--regid",
    String(user.gid),
    "--init-groups",
    "--",
    "test",
    "-r",
    path,
  ]);
  return probe.code === 0;
}

/**
 * A copy of the code under `dir` that every user can read: hard links where the file system allows
 * (instant), copies otherwise; directories 0755, and files others cannot read replaced by readable
 * copies (the originals are never changed). For a checkout the daemon's user cannot read.
 */
export function stageCode(repoRoot: string, dir: string): string {
  readableCopy(repoRoot, RUNNABLE_ENTRIES, dir);
  return dir;
}
