/**
 * Node's compile cache for the build that runs: V8's compiled code of each module kept on disk, so
 * that a start reads it instead of compiling the module again. Compiling is the largest part of the
 * daemon's start (~250 ms of CPU for its ~2 MB of chunks, more on a busy or small machine); with the
 * cache the first complete app list comes ~0.5 s sooner (docs/architecture.md, "Starting fast").
 *
 * One directory per build, under the user's cache directory (`~/.cache/archipelago/compile-cache/
 * <build id>`): Node checks each entry against the module's text, and a build's first start removes
 * the directories of older builds, so the cache holds one build's code (~10 MB) however often the
 * code is updated. Written once per build (the entries a start had to compile), never at an idle
 * daemon's every pass. Where the directory cannot be made, modules are compiled as before.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { enableCompileCache } from "node:module";
import { homedir } from "node:os";
import { basename, join } from "node:path";

/** The cache's directory for builds: one entry per build id. */
export function compileCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "archipelago", "compile-cache");
}

/** The build this module runs from (`.build/<id>/`), or "sources" when run through type stripping. */
function buildId(): string {
  const dir = import.meta.dirname;
  return basename(join(dir, "..")) === ".build" ? basename(dir) : "sources";
}

export function cacheCompiledCode(): void {
  const root = compileCacheRoot();
  const id = buildId();
  const dir = join(root, id);
  try {
    if (!existsSync(dir)) {
      for (const old of existsSync(root) ? readdirSync(root) : [])
        if (old !== id) rmSync(join(root, old), { recursive: true, force: true });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
  } catch {
    return; // no cache: a start compiles as without one
  }
  enableCompileCache(dir);
}
