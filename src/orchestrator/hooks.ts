/**
 * Lifecycle hooks: `exec` inside an app container with a time limit, and `copy_from_host` from an
 * allowlisted root — the app's own directory, or the directory of a host-path permission — after
 * canonicalisation: `..`, absolute paths and symbolic links that lead outside the root are refused.
 * Output goes to the operation log; a failing step fails the hook with its output as the reason.
 * Steps may run again after a crash or retry, so manifests must make them idempotent.
 */
import { lstat, readdir, readFile, realpath } from "node:fs/promises";
import { join, posix, sep } from "node:path";
import { containerName } from "../manifest/naming.ts";
import type { HookName, Manifest } from "../manifest/schema.ts";
import { isPodmanError } from "../runtime/libpod/errors.ts";
import type { ContainerRef, Runtime } from "../runtime/runtime.ts";
import { type TarEntry, tar } from "../runtime/tar.ts";
import type { Note } from "./executor.ts";

export class HookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HookError";
  }
}

/** A file or directory tree to copy, read from a canonical location under its root. */
type HostTree = {
  entries: Array<{ relative: string; type: "file" | "directory"; mode: number; data?: Buffer }>;
};

const MAX_COPY_BYTES = 64 * 1024 * 1024;

/**
 * Resolves `relative` under `root` and reads it: every path component is checked after symbolic
 * links are resolved, so no link (of the file, of a directory on the way, or inside a copied tree)
 * can lead outside the root.
 */
export async function readHostTree(root: string, relative: string): Promise<HostTree> {
  if (
    relative.startsWith("/") ||
    relative.split("/").some((s) => s === ".." || s === "") ||
    relative.includes("\0")
  )
    throw new HookError(`copy_from_host: ${JSON.stringify(relative)} must be a relative path without '..'`);
  let canonicalRoot: string;
  try {
    canonicalRoot = await realpath(root);
  } catch {
    throw new HookError(`copy_from_host: the root directory ${root} does not exist`);
  }
  const inside = (path: string) =>
    path === canonicalRoot ||
    path.startsWith(canonicalRoot.endsWith(sep) ? canonicalRoot : `${canonicalRoot}${sep}`);
  let source: string;
  try {
    source = await realpath(join(canonicalRoot, relative));
  } catch {
    throw new HookError(`copy_from_host: ${relative} does not exist under ${root}`);
  }
  if (!inside(source) || source === canonicalRoot)
    throw new HookError(`copy_from_host: ${relative} resolves to ${source}, outside ${root}: refused`);

  const entries: HostTree["entries"] = [];
  let total = 0;
  const walk = async (path: string, rel: string): Promise<void> => {
    const info = await lstat(path);
    if (info.isSymbolicLink()) {
      const target = await realpath(path).catch(() => undefined);
      if (!target || !inside(target))
        throw new HookError(`copy_from_host: ${rel} is a link leading outside ${root}: refused`);
      return walk(target, rel);
    }
    if (info.isDirectory()) {
      entries.push({ relative: rel, type: "directory", mode: info.mode & 0o777 });
      for (const name of (await readdir(path)).sort()) await walk(join(path, name), `${rel}/${name}`);
      return;
    }
    if (!info.isFile())
      throw new HookError(`copy_from_host: ${rel} is neither a file nor a directory: refused`);
    total += info.size;
    if (total > MAX_COPY_BYTES)
      throw new HookError(`copy_from_host: more than ${MAX_COPY_BYTES / 1024 / 1024} MiB to copy: refused`);
    entries.push({ relative: rel, type: "file", mode: info.mode & 0o777, data: await readFile(path) });
  };
  await walk(source, posix.basename(relative));
  return { entries };
}

export type HookContext = {
  runtime: Runtime;
  /** The app's package directory (the default copy root), when its source has one. */
  appDir: string | undefined;
  /** The app's containers as observed now, by key. */
  containers: ReadonlyMap<string, ContainerRef>;
  note: Note;
};

function uidOf(manifest: Manifest, key: string): number {
  const spec = manifest.containers[key];
  return spec?.data_uid ?? Number(spec?.user?.split(":")[0] ?? 0);
}

/** The container keys a hook's steps run in or copy into, in order, each once. */
export function hookTargets(manifest: Manifest, hook: HookName): string[] {
  const keys = manifest.hooks[hook].map((step) =>
    "exec" in step ? step.exec.container : step.copy_from_host.container,
  );
  return [...new Set(keys)];
}

/** Runs every step of one hook, in order; the first failing step fails the hook. */
export async function runHook(manifest: Manifest, hook: HookName, ctx: HookContext): Promise<void> {
  const steps = manifest.hooks[hook];
  if (steps.length === 0) return;
  ctx.note("info", `running the ${hook} hook (${steps.length} step${steps.length === 1 ? "" : "s"})`);
  for (const [index, step] of steps.entries()) {
    const where = `${hook} step ${index + 1}`;
    const key = "exec" in step ? step.exec.container : step.copy_from_host.container;
    const container = ctx.containers.get(key);
    if (!container)
      throw new HookError(`${where}: container ${containerName(manifest, key)} is not there to run in`);
    if ("exec" in step) {
      const { command, timeout } = step.exec;
      let result: Awaited<ReturnType<Runtime["exec"]>>;
      try {
        result = await ctx.runtime.exec(container, command, timeout);
      } catch (error) {
        if (isPodmanError(error, "timeout"))
          throw new HookError(`${where}: ${command.join(" ")} did not finish within ${timeout / 1000} s`);
        throw new HookError(`${where}: ${command.join(" ")} could not run: ${(error as Error).message}`);
      }
      const output = `${result.stdout}${result.stderr}`.trim();
      for (const line of output.split("\n").slice(-50))
        if (line) ctx.note(result.exitCode === 0 ? "info" : "error", `${where}: ${line}`);
      if (result.exitCode !== 0)
        throw new HookError(
          `${where}: ${command.join(" ")} exited with ${result.exitCode}${output ? `: ${output.split("\n").slice(-5).join(" | ")}` : ""}`,
        );
      continue;
    }
    const copy = step.copy_from_host;
    const root =
      copy.root === undefined
        ? ctx.appDir
        : manifest.permissions[copy.root]?.kind === "host-path"
          ? (manifest.permissions[copy.root] as { path: string }).path
          : undefined;
    if (!root)
      throw new HookError(
        `${where}: no directory to copy from (the app has no package directory, or no host-path permission ${copy.root})`,
      );
    const tree = await readHostTree(root, copy.from);
    // pre_start copies into stopped containers, whose volumes are mounted only once initialized: a
    // copy before that would land under the mount point, hidden at the start (Containers.init).
    // The other hooks run in running containers: one that died meanwhile is not revived here.
    if (hook === "pre_start") await ctx.runtime.client.containers.init(container.id);
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
        await ctx.runtime.client.containers.putArchive(
          container.id,
          into,
          tar([...dirs, ...toEntries(prefix)]),
        );
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
