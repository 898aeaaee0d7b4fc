/**
 * Files an app directory holds (a hook's copy sources, the icon), read safely: the one reading both
 * `archy app validate` and the copy_from_host hook use, so they agree on what exists and what is
 * refused.
 */
import { lstat, readdir, readFile, realpath } from "node:fs/promises";
import { join, posix, sep } from "node:path";

/** A file of an app that is missing or refused; the message names it and why. */
export class AppFileError extends Error {
  override name = "AppFileError";
}

/** A file or directory tree of an app, read from a canonical location under its root. */
export type AppTree = {
  entries: Array<{ relative: string; type: "file" | "directory"; mode: number; data?: Buffer }>;
};

const MAX_COPY_BYTES = 64 * 1024 * 1024;

/**
 * Resolves `relative` under `root` and reads it: every path component is checked after symbolic
 * links are resolved, so no link (of the file, of a directory on the way, or inside a copied tree)
 * can lead outside the root.
 */
export async function readAppTree(root: string, relative: string): Promise<AppTree> {
  if (
    relative.startsWith("/") ||
    relative.split("/").some((s) => s === ".." || s === "") ||
    relative.includes("\0")
  )
    throw new AppFileError(`${JSON.stringify(relative)} must be a relative path without '..'`);
  let canonicalRoot: string;
  try {
    canonicalRoot = await realpath(root);
  } catch {
    throw new AppFileError(`the root directory ${root} does not exist`);
  }
  const inside = (path: string) =>
    path === canonicalRoot ||
    path.startsWith(canonicalRoot.endsWith(sep) ? canonicalRoot : `${canonicalRoot}${sep}`);
  let source: string;
  try {
    source = await realpath(join(canonicalRoot, relative));
  } catch {
    throw new AppFileError(`${relative} does not exist under ${root}`);
  }
  if (!inside(source) || source === canonicalRoot)
    throw new AppFileError(`${relative} resolves to ${source}, outside ${root}: refused`);

  const entries: AppTree["entries"] = [];
  let total = 0;
  const walk = async (path: string, rel: string): Promise<void> => {
    const info = await lstat(path);
    if (info.isSymbolicLink()) {
      const target = await realpath(path).catch(() => undefined);
      if (!target || !inside(target))
        throw new AppFileError(`${rel} is a link leading outside ${root}: refused`);
      return walk(target, rel);
    }
    if (info.isDirectory()) {
      entries.push({ relative: rel, type: "directory", mode: info.mode & 0o777 });
      for (const name of (await readdir(path)).sort()) await walk(join(path, name), `${rel}/${name}`);
      return;
    }
    if (!info.isFile()) throw new AppFileError(`${rel} is neither a file nor a directory: refused`);
    total += info.size;
    if (total > MAX_COPY_BYTES)
      throw new AppFileError(`more than ${MAX_COPY_BYTES / 1024 / 1024} MiB to copy: refused`);
    entries.push({ relative: rel, type: "file", mode: info.mode & 0o777, data: await readFile(path) });
  };
  await walk(source, posix.basename(relative));
  return { entries };
}
