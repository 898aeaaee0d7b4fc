/**
 * Writes a new app directory whole or not at all: its files go into a fresh directory beside the
 * target, which is renamed into place at the end; a target that exists and is not empty is never
 * touched.
 */
import { chmod, mkdir, mkdtemp, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileProblem } from "../system/fs-errors.ts";

export type AppFile = { path: string; content: string | Buffer };

export class TargetError extends Error {
  override name = "TargetError";
}

/** Writes `files` as the directory `target`; throws TargetError (nothing written) when it cannot. */
export async function writeAppDirectory(target: string, files: readonly AppFile[]): Promise<void> {
  const dir = resolve(target);
  const existing = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw new TargetError(`cannot use ${target}: ${fileProblem(error, dir)}`);
  });
  if (existing && existing.length > 0)
    throw new TargetError(
      `${target} already exists and is not empty: nothing was written (choose another directory with --out)`,
    );
  await mkdir(dirname(dir), { recursive: true }).catch((error) => {
    throw new TargetError(`cannot create ${dirname(dir)}: ${fileProblem(error)}`);
  });
  const staging = await mkdtemp(join(dirname(dir), `.${basename(dir)}.new-`)).catch((error) => {
    throw new TargetError(`cannot write in ${dirname(dir)}: ${fileProblem(error)}`);
  });
  try {
    for (const file of files) {
      const path = join(staging, file.path);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content, { mode: 0o644 });
    }
    // mkdtemp makes a private directory; an app directory is read by the daemon's user too.
    await chmod(staging, 0o755);
    if (existing) await rmdir(dir);
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw new TargetError(`cannot write ${target}: ${fileProblem(error)}`);
  }
}
