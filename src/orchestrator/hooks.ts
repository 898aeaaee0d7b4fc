/**
 * Lifecycle hooks: `exec` inside an app container with a time limit, and `copy_from_host` from an
 * allowlisted root — the app's own directory, or the directory of a host-path permission — after
 * canonicalisation: `..`, absolute paths and symbolic links that lead outside the root are refused.
 * Output goes to the operation log; a failing step fails the hook with its output as the reason.
 * Steps may run again after a crash or retry, so manifests must make them idempotent.
 */
import { posix } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AppFileError, type AppTree, readAppTree } from "../manifest/app-files.ts";
import { type HookName, type HookStepSpec, type Manifest, stepContainer } from "../manifest/schema.ts";
import { isPodmanError } from "../runtime/libpod/errors.ts";
import type { ContainerRef, ExecResult, Runtime } from "../runtime/runtime.ts";
import { type TarEntry, tar } from "../runtime/tar.ts";
import { HostPathError, type HostPathGuard } from "./host-path-guard.ts";
import type { Note } from "./model.ts";
import type { Health } from "./planner.ts";

export class HookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HookError";
  }
}

/** `readAppTree` for a copy_from_host step: its refusals are the hook's failures. */
export async function readHostTree(root: string, relative: string): Promise<AppTree> {
  try {
    return await readAppTree(root, relative);
  } catch (error) {
    if (error instanceof AppFileError) throw new HookError(`copy_from_host: ${error.message}`);
    throw error;
  }
}

/** An app's package as hooks use it: its directory, and for a catalog app the check of every copy. */
export type AppPackage = { dir: string; verifyCopy?: HookContext["verifyCopy"] };

export type HookContext = {
  runtime: Runtime;
  /** The app's package directory (the default copy root), when its source has one. */
  appDir: string | undefined;
  /** For a catalog app: why what a copy read from `appDir` is not what was signed (it is refused), or undefined. */
  verifyCopy?: (from: string, tree: AppTree) => string | undefined;
  /** The app's containers as observed now, by key. */
  containers: ReadonlyMap<string, ContainerRef>;
  note: Note;
  /** Checks a host-path root as it resolves now, before anything is read from it. */
  hostPaths: HostPathGuard;
  /** A container's health as the daemon's probes call it now, and their last output (for `wait`). */
  healthOf: (key: string) => { health: Health; detail: string | undefined };
  /**
   * Added to the environment of every `exec` step (a consumer's values, for the provider's
   * provision steps): never in the command's arguments, so never in a reason or a log line.
   */
  env?: Readonly<Record<string, string>>;
};

/** What runs hook steps: a lifecycle hook, a backup's, or a provider's steps for one consumer. */
export type StepsName =
  | HookName
  | "pre_backup"
  | "post_backup"
  | "consumers.provision"
  | "consumers.deprovision";

/** How often a `wait` step looks at the container's health (the probes run on their own interval). */
const WAIT_POLL_MS = 250;

function uidOf(manifest: Manifest, key: string): number {
  const spec = manifest.containers[key];
  return spec?.data_uid ?? Number(spec?.user?.split(":")[0] ?? 0);
}

/** The container keys a hook's steps run in or copy into, in order, each once. */
export function hookTargets(manifest: Manifest, hook: HookName): string[] {
  return [...new Set(manifest.hooks[hook].map(stepContainer))];
}

/** The directory of the host-path permission `name`, as it resolves now and once it is allowed. */
async function copyRoot(
  manifest: Manifest,
  name: string,
  hostPaths: HostPathGuard,
): Promise<string | undefined> {
  const permission = manifest.permissions[name];
  if (permission?.kind !== "host-path") return undefined;
  return hostPaths.resolve(permission.path, `copy_from_host root ${name}`);
}

/** How many of a failing step's last output lines its reason repeats. */
const FAILURE_LINES = 5;
/** The longest a command is shown in a reason: a script is the manifest's to show, not the reason's. */
const COMMAND_SHOWN = 60;

/**
 * A command as a reason names it: whole when short and on one line, else its first line cut short
 * (`sh -c 'set -e…'`), so that a hook's script does not become the app's reason and the operation's
 * error.
 */
function commandSummary(command: readonly string[]): string {
  const whole = command.join(" ");
  const firstLine = whole.split("\n")[0] as string;
  if (firstLine === whole && whole.length <= COMMAND_SHOWN) return `\`${whole}\``;
  return `\`${firstLine.slice(0, COMMAND_SHOWN).trimEnd()}…\``;
}

/** Runs every step of one hook, in order; the first failing step fails the hook. */
export async function runHook(manifest: Manifest, hook: HookName, ctx: HookContext): Promise<void> {
  await runSteps(manifest, hook, manifest.hooks[hook], ctx);
}

/** Runs `steps` of the hook named `hook` (a lifecycle hook, or a backup's), in order. */
export async function runSteps(
  manifest: Manifest,
  hook: StepsName,
  steps: readonly HookStepSpec[],
  ctx: HookContext,
): Promise<void> {
  if (steps.length === 0) return;
  ctx.note("info", `running the ${hook} hook (${steps.length} step${steps.length === 1 ? "" : "s"})`);
  for (const [index, step] of steps.entries()) {
    const where = `${hook} step ${index + 1}`;
    const key = stepContainer(step);
    const container = ctx.containers.get(key);
    if (!container)
      throw new HookError(`${where}: container ${key} of ${manifest.id} is not there to run in`);
    if ("exec" in step) {
      const { command, timeout } = step.exec;
      let result: ExecResult;
      try {
        result = await ctx.runtime.exec(container, command, timeout, ctx.env);
      } catch (error) {
        if (isPodmanError(error, "timeout"))
          throw new HookError(
            `${where}: ${commandSummary(command)} did not finish within ${timeout / 1000} s`,
          );
        throw new HookError(
          `${where}: ${commandSummary(command)} could not run: ${(error as Error).message}`,
        );
      }
      // The output is the program's, whatever its exit code: logged as information, its last lines
      // repeated in the failure's reason.
      const lines = `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.trim() !== "");
      for (const line of lines.slice(-50)) ctx.note("info", `${where}: ${line}`);
      if (result.exitCode !== 0)
        throw new HookError(
          `${where}: ${commandSummary(command)} exited with ${result.exitCode}${lines.length > 0 ? `; its last lines: ${lines.slice(-FAILURE_LINES).join(" | ")}` : " and printed nothing"}`,
        );
      continue;
    }
    if ("wait" in step) {
      await waitHealthy(where, key, step.wait.timeout, ctx);
      continue;
    }
    const copy = step.copy_from_host;
    const root =
      copy.root === undefined
        ? ctx.appDir
        : await copyRoot(manifest, copy.root, ctx.hostPaths).catch((error: unknown) => {
            if (error instanceof HostPathError) throw new HookError(`${where}: ${error.message}`);
            throw error;
          });
    if (!root)
      throw new HookError(
        `${where}: no directory to copy from (the app has no package directory, or no host-path permission ${copy.root})`,
      );
    const tree = await readHostTree(root, copy.from);
    const unsigned = copy.root === undefined ? ctx.verifyCopy?.(copy.from, tree) : undefined;
    if (unsigned) throw new HookError(`${where}: ${unsigned}`);
    // pre_start copies into stopped containers, whose volumes are mounted only once initialized: a
    // copy before that would land under the mount point, hidden at the start (Containers.init).
    // The other hooks run in running containers: one that died meanwhile is not revived here.
    if (hook === "pre_start") await ctx.runtime.init(container);
    const uid = uidOf(manifest, key);
    const now = Math.floor(Date.now() / 1000);
    const target = posix.normalize(copy.to);
    const targetName = posix.basename(target);
    const toEntries = (prefix: string): TarEntry[] =>
      tree.entries.map((e) => ({
        name: `${prefix}${targetName}${e.relative.slice(posix.basename(copy.from).length)}`,
        type: e.type,
        mode: e.type === "directory" ? 0o755 : e.mode & 0o111 ? 0o755 : 0o644,
        uid,
        gid: uid,
        mtime: now,
        data: e.data,
      }));
    // Into the deepest directory of the target's path that exists, creating only the ones below it:
    // a directory entry in the archive would also reset the mode and owner of an existing one (a
    // 1777 /tmp, a volume's root).
    const parents = posix.dirname(target).split("/").filter(Boolean);
    for (let depth = parents.length; depth >= 0; depth--) {
      const missing = parents.slice(depth);
      const dirs: TarEntry[] = missing.map((_, i) => ({
        name: missing.slice(0, i + 1).join("/"),
        type: "directory",
        mode: 0o755,
        uid,
        gid: uid,
        mtime: now,
      }));
      const prefix = missing.length > 0 ? `${missing.join("/")}/` : "";
      try {
        const into = `/${parents.slice(0, depth).join("/")}`;
        await ctx.runtime.copyInto(container, into, tar([...dirs, ...toEntries(prefix)]));
        break;
      } catch (error) {
        if (depth > 0 && isPodmanError(error, "not-found")) continue;
        throw new HookError(
          `${where}: copying ${copy.from} into ${key}:${target} failed: ${(error as Error).message}`,
        );
      }
    }
    ctx.note("info", `${where}: copied ${copy.from} to ${key}:${target}`);
  }
}

/**
 * A `wait` step: until the daemon's probes call the container healthy, looking again every
 * WAIT_POLL_MS; after `timeoutMs` the step fails with the last verdict and the probe's output.
 */
async function waitHealthy(where: string, key: string, timeoutMs: number, ctx: HookContext): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = ctx.healthOf(key);
  while (seen.health !== "healthy") {
    if (Date.now() >= deadline)
      throw new HookError(
        `${where}: ${key} was not healthy within ${timeoutMs / 1000} s (it is ${seen.health}${seen.detail ? `; its last probe said: ${seen.detail.trim().split("\n").slice(-FAILURE_LINES).join(" | ")}` : ""})`,
      );
    await sleep(Math.min(WAIT_POLL_MS, Math.max(0, deadline - Date.now())));
    seen = ctx.healthOf(key);
  }
  ctx.note("info", `${where}: ${key} is healthy`);
}
