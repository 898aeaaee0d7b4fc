/**
 * The one way host code runs other programs: `execFile` with an argument vector (never a shell
 * string), a timeout, and a result instead of an exception, so checks can report what they saw.
 */
import { execFile } from "node:child_process";

export type ExecResult = { code: number; stdout: string; stderr: string };

export type ExecOptions = {
  /** Kill the program after this long (default 120 s); the result then has code 124. */
  timeoutMs?: number;
  /** Extra environment on top of (or, with `replaceEnv`, instead of) this process's environment. */
  env?: Record<string, string>;
  replaceEnv?: boolean;
  cwd?: string;
  input?: string;
};

/** A user whose programs we run: directly when we are that user, through `runuser` when root. */
export type RunAs = { name: string; uid: number; gid: number; home: string };

export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Runs `file args...`; resolves with its exit code and output, code 127 when it cannot start. */
export function exec(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const timeout = options.timeoutMs ?? 120_000;
  const env = options.replaceEnv ? { ...options.env } : { ...process.env, ...options.env };
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd ?? "/", env, timeout, killSignal: "SIGKILL", maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const out = String(stdout);
        const err = String(stderr);
        if (!error) return resolve({ code: 0, stdout: out, stderr: err });
        const failure = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        if (typeof failure.code === "number")
          return resolve({ code: failure.code, stdout: out, stderr: err });
        if (failure.killed || failure.signal) {
          return resolve({
            code: 124,
            stdout: out,
            stderr: `${err}\n${file}: timed out after ${timeout} ms`,
          });
        }
        const notFound = failure.code === "ENOENT";
        resolve({ code: notFound ? 127 : 126, stdout: out, stderr: `${err}${file}: ${failure.message}` });
      },
    );
    child.stdin?.on("error", () => {}); // EPIPE when the program exits (or never starts) before reading
    child.stdin?.end(options.input ?? "");
  });
}

/** The environment rootless Podman needs for `user`: its home and its runtime directory. */
export function userEnv(user: RunAs): Record<string, string> {
  return {
    PATH: SYSTEM_PATH,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    XDG_RUNTIME_DIR: `/run/user/${user.uid}`,
    LANG: "C.UTF-8",
  };
}

/**
 * The argument vector that runs `argv` as `user`: `runuser -u USER -- env K=V... argv` when we are
 * root and not that user, `argv` unchanged otherwise.
 */
export function asUserArgv(user: RunAs, argv: readonly string[], myUid: number): string[] {
  if (myUid !== 0 || user.uid === 0) return [...argv];
  const env = Object.entries(userEnv(user)).map(([key, value]) => `${key}=${value}`);
  return ["runuser", "-u", user.name, "--", "env", "-i", ...env, ...argv];
}

/** Runs `argv` as `user` from /tmp (a directory every user can read). */
export function execAs(
  user: RunAs,
  argv: readonly string[],
  options: Omit<ExecOptions, "cwd"> = {},
): Promise<ExecResult> {
  const [file, ...args] = asUserArgv(user, argv, process.getuid?.() ?? -1);
  const env = userEnv(user);
  // Running as ourselves (not root): keep a session's own runtime directory when it has one.
  if (file !== "runuser" && process.env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = process.env.XDG_RUNTIME_DIR;
  return exec(file as string, args, { ...options, cwd: "/tmp", env: { ...env, ...options.env } });
}

/** Quotes one word for a POSIX shell, for printing commands an operator can paste. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `argv` as one pasteable shell command line. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
