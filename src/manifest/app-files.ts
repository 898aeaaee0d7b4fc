/**
 * Files an app directory holds (a hook's copy sources, the icon), read safely: the one reading both
 * `archy app validate` and the copy_from_host hook use, so they agree on what exists and what is
 * refused. Every read is bounded: in depth, in the number of files and directories, in bytes, and
 * against loops of symbolic links (a directory met again inside itself, by device and inode); only
 * regular files and directories are read, and a file is opened without blocking, so a named pipe,
 * a socket or a device swapped in at the last moment is refused instead of hanging the reader.
 */
import { constants } from "node:fs";
import { lstat, open, opendir, realpath } from "node:fs/promises";
import { join, posix, sep } from "node:path";

/** A file of an app that is missing or refused; the message names it and why. */
export class AppFileError extends Error {
  override name = "AppFileError";
  /** The read went over its byte limit (the fix is a smaller file), not a missing or unsafe path. */
  readonly tooLarge: boolean;
  constructor(message: string, options: { tooLarge?: boolean } = {}) {
    super(message);
    this.tooLarge = options.tooLarge ?? false;
  }
}

/** A file or directory tree of an app, read from a canonical location under its root. */
export type AppTree = {
  entries: Array<{ relative: string; type: "file" | "directory"; mode: number; data?: Buffer }>;
};

/** How much one read of an app's files may take in (a copy_from_host step, an icon). */
export const APP_TREE_LIMITS = { bytes: 64 * 1024 * 1024, entries: 10_000, depth: 32 } as const;

export type ReadAppTreeOptions = {
  /** Stops the read between two files (a caller's time limit). */
  signal?: AbortSignal;
  /** Tighter limits than `APP_TREE_LIMITS` (an env_file, tests). */
  limits?: Partial<Record<keyof typeof APP_TREE_LIMITS, number>>;
  /** What the read is for, as the size refusal says it: `more than 64 MiB to <reading>` (default `copy`). */
  reading?: string;
};

/** What a file that is neither a regular file nor a directory is, for messages. */
function kindOf(info: { isFIFO(): boolean; isSocket(): boolean; isSymbolicLink(): boolean }): string {
  if (info.isFIFO()) return "a named pipe";
  if (info.isSocket()) return "a socket";
  if (info.isSymbolicLink()) return "a symbolic link";
  return "a device";
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * A regular file's first `maxBytes` bytes and its size, opened without following a link or
 * blocking (a named pipe opened for reading waits for a writer forever); anything but a regular
 * file is refused, named `shown`.
 */
export async function readRegularFile(
  path: string,
  shown: string,
  maxBytes: number,
): Promise<{ data: Buffer; size: number }> {
  const handle = await open(path, OPEN_FLAGS).catch((error: NodeJS.ErrnoException) => {
    throw new AppFileError(
      `${shown} cannot be read: ${error.code === "ELOOP" ? "it is a symbolic link" : error.message}`,
    );
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new AppFileError(`${shown} is ${kindOf(info)}, not a file: refused`);
    const data = Buffer.alloc(Math.min(info.size, maxBytes));
    let read = 0;
    while (read < data.length) {
      const { bytesRead } = await handle.read(data, read, data.length - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return { data: data.subarray(0, read), size: info.size };
  } finally {
    await handle.close();
  }
}

/**
 * Resolves `relative` under `root` and reads it: every path component is checked after symbolic
 * links are resolved, so no link (of the file, of a directory on the way, or inside a copied tree)
 * can lead outside the root, and no loop of links leads back into a directory being read.
 */
export async function readAppTree(
  root: string,
  relative: string,
  options: ReadAppTreeOptions = {},
): Promise<AppTree> {
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
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new AppFileError(`${relative} does not exist under ${root}`);
    throw new AppFileError(`${relative} cannot be read under ${root}: ${(error as Error).message}`);
  }
  if (!inside(source) || source === canonicalRoot)
    throw new AppFileError(`${relative} resolves to ${source}, outside ${root}: refused`);

  const limits = { ...APP_TREE_LIMITS, ...options.limits };
  const entries: AppTree["entries"] = [];
  let total = 0;
  const tooMany = () =>
    new AppFileError(`${relative} holds more than ${limits.entries} files and directories: refused`);
  /** `ancestors`: the directories (device:inode) this one is inside, to tell a loop of links. */
  const walk = async (
    path: string,
    rel: string,
    depth: number,
    ancestors: ReadonlySet<string>,
  ): Promise<void> => {
    options.signal?.throwIfAborted();
    if (entries.length >= limits.entries) throw tooMany();
    const info = await lstat(path, { bigint: true }).catch((error: Error) => {
      throw new AppFileError(`${rel} cannot be read: ${error.message}`);
    });
    if (info.isSymbolicLink()) {
      const target = await realpath(path).catch(() => undefined);
      if (!target || !inside(target))
        throw new AppFileError(`${rel} is a link leading outside ${root}: refused`);
      return walk(target, rel, depth, ancestors);
    }
    if (info.isDirectory()) {
      const id = `${info.dev}:${info.ino}`;
      if (ancestors.has(id))
        throw new AppFileError(`${rel} leads back into a directory that holds it (a loop of links): refused`);
      if (depth >= limits.depth)
        throw new AppFileError(`${rel} is more than ${limits.depth} directories deep: refused`);
      entries.push({ relative: rel, type: "directory", mode: Number(info.mode) & 0o777 });
      const names: string[] = [];
      const dir = await opendir(path).catch((error: Error) => {
        throw new AppFileError(`${rel} cannot be read: ${error.message}`);
      });
      for await (const entry of dir) {
        names.push(entry.name);
        // Leaving the loop closes the directory.
        if (entries.length + names.length > limits.entries) throw tooMany();
      }
      const inner = new Set(ancestors).add(id);
      for (const name of names.sort()) await walk(join(path, name), `${rel}/${name}`, depth + 1, inner);
      return;
    }
    if (!info.isFile())
      throw new AppFileError(`${rel} is ${kindOf(info)}: only files and directories are copied, refused`);
    const { data, size } = await readRegularFile(path, rel, limits.bytes - total + 1);
    total += size;
    if (total > limits.bytes)
      throw new AppFileError(`more than ${sizeText(limits.bytes)} to ${options.reading ?? "copy"}: refused`, {
        tooLarge: true,
      });
    entries.push({ relative: rel, type: "file", mode: Number(info.mode) & 0o777, data });
  };
  await walk(source, posix.basename(relative), 0, new Set());
  return { entries };
}

/** A bound in bytes as messages say it: whole MiB, else KiB. */
function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`;
}
