/**
 * Runs commands as the rootless test user. As root (CI, the README's test command) commands go
 * through `runuser` with that user's runtime directory; as any other user they run directly, as
 * that user's own rootless Podman.
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { TEST_USER } from "../../src/host/layout.ts";

export type RunResult = { code: number; stdout: string; stderr: string };

const isRoot = process.getuid?.() === 0;

function lookupUser(name: string): { uid: number; gid: number; home: string } {
  if (!isRoot) {
    const me = userInfo();
    return { uid: me.uid, gid: me.gid, home: me.homedir };
  }
  const line = (
    readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${name}:`)) ?? ""
  ).split(":");
  if (line.length < 7)
    throw new Error(`test user '${name}' does not exist: run \`npx archy doctor --fix\` as root`);
  return { uid: Number(line[2]), gid: Number(line[3]), home: line[5] as string };
}

export const testUser = lookupUser(TEST_USER);

/** The environment a rootless Podman of the test user needs. */
export function testUserEnv(): Record<string, string> {
  const runtimeDir = `/run/user/${testUser.uid}`;
  if (isRoot) {
    mkdirSync(runtimeDir, { recursive: true });
    chownSync(runtimeDir, testUser.uid, testUser.gid);
    chmodSync(runtimeDir, 0o700);
  }
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: testUser.home,
    USER: isRoot ? TEST_USER : userInfo().username,
    XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR && !isRoot ? process.env.XDG_RUNTIME_DIR : runtimeDir,
    LANG: "C.UTF-8",
  };
}

/** Runs `argv` as the test user, from a directory that user can read, and collects its output. */
export function runAsTestUser(
  argv: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const env = testUserEnv();
  const [file, args] = isRoot
    ? [
        "runuser",
        ["-u", TEST_USER, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
      ]
    : [argv[0] as string, argv.slice(1)];
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: "/tmp", env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs `podman ARGS` as the test user; throws with Podman's own message when it fails. */
export async function podman(
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const result = await runAsTestUser(["podman", ...args], options);
  if (result.code !== 0)
    throw new Error(`podman ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}
