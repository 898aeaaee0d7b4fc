/**
 * App data directories on the host. Rootless containers see the daemon user as root and every other
 * uid through the user's subordinate range, so a directory a container's uid 1000 must own is
 * chowned inside the user namespace (`podman unshare chown`), and removing files written by such
 * uids also happens inside it.
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { exec } from "../system/exec.ts";

export type DataDir = { path: string; uid?: number };

async function inUserNamespace(argv: string[], what: string): Promise<void> {
  const root = process.getuid?.() === 0;
  const [file, ...args] = root ? argv : ["podman", "unshare", ...argv];
  const result = await exec(file as string, args, { timeoutMs: 120_000 });
  if (result.code !== 0)
    throw new Error(`could not ${what}: ${result.stderr.trim() || `exit ${result.code}`}`);
}

/**
 * Creates the directories (mode 0750) and gives each to its container uid; existing data is untouched.
 * A directory appears under its name only once it is owned as it must be: it is made and chowned
 * under a temporary name, then renamed, so a crash in between never leaves a directory that exists
 * (and is therefore never chowned again) but belongs to the wrong uid.
 */
export async function ensureDataDirs(dirs: DataDir[]): Promise<{ created: string[] }> {
  const created: string[] = [];
  for (const dir of dirs) {
    const existed = await stat(dir.path).then(
      () => true,
      () => false,
    );
    if (!existed) {
      const partial = `${dir.path}.partial`;
      await mkdir(dirname(dir.path), { recursive: true, mode: 0o750 });
      await rm(partial, { recursive: true, force: true }); // left by a crash: empty, never data
      await mkdir(partial, { mode: 0o750 });
      if (dir.uid !== undefined && dir.uid !== 0)
        await inUserNamespace(
          ["chown", `${dir.uid}:${dir.uid}`, partial],
          `give ${dir.path} to uid ${dir.uid}`,
        );
      await rename(partial, dir.path);
      created.push(dir.path);
    }
  }
  return { created };
}

/** Deletes an app's data directory, whoever inside its containers wrote the files. Purge only. */
export async function removeDataDir(path: string): Promise<void> {
  if (
    !(await stat(path).then(
      () => true,
      () => false,
    ))
  )
    return;
  await inUserNamespace(["rm", "-rf", "--one-file-system", path], `delete ${path}`);
}
