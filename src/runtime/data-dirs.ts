/**
 * App data directories on the host. Rootless containers see the daemon user as root and every other
 * uid through the user's subordinate range, so a directory a container's uid 1000 must own is
 * chowned inside the user namespace (`podman unshare chown`), and removing files written by such
 * uids also happens inside it.
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { LABELS, OWNER } from "../manifest/naming.ts";
import { type ExecResult, exec } from "../system/exec.ts";

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
      await removePartial(partial); // left by a crash: never data under its own name
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

/**
 * Deletes a `.partial` directory a crash left: empty for a new directory, but a copy interrupted
 * by a crash (see `copyIntoDataDir`) holds files of container uids, deleted inside the user namespace.
 */
async function removePartial(partial: string): Promise<void> {
  try {
    await rm(partial, { recursive: true, force: true });
  } catch {
    await inUserNamespace(["rm", "-rf", "--one-file-system", "--", partial], `delete ${partial}`);
  }
}

/** How a legacy directory was copied: a reflink (copy-on-write clone) or a plain copy, and why. */
export type DataCopy = { method: "reflink" | "copy"; noReflink?: string };

export type CopyOptions = {
  /** How long one copy may take (default 6 h: a plain copy of a large data set is slow). */
  timeoutMs?: number;
  /** Runs a program in the user namespace (tests); default `podman unshare` when not root. */
  run?: (argv: string[], timeoutMs: number) => Promise<ExecResult>;
};

function namespaceRunner(): (argv: string[], timeoutMs: number) => Promise<ExecResult> {
  const root = process.getuid?.() === 0;
  return (argv, timeoutMs) => {
    const [file, ...args] = root ? argv : ["podman", "unshare", ...argv];
    return exec(file as string, args, { timeoutMs });
  };
}

/**
 * Creates the data directory `target` as a copy of the legacy directory `source`, which is only
 * read. `cp -a` keeps ownership, modes, times and links; it runs inside the user namespace when
 * rootless, so files of container uids (subordinate ids) keep theirs. A reflink copy is tried
 * first (instant, shares blocks until either side changes), then a plain one (`--reflink=auto`).
 * The copy is made under `<target>.partial` and renamed into place, so `target` appears only
 * complete; a copy a crash interrupted is deleted and made again. Returns undefined, copying
 * nothing, when `target` exists: data is never overwritten.
 */
export async function copyIntoDataDir(
  source: string,
  target: string,
  options: CopyOptions = {},
): Promise<DataCopy | undefined> {
  if (await exists(target)) return undefined;
  const run = options.run ?? namespaceRunner();
  const timeoutMs = options.timeoutMs ?? 6 * 3_600_000;
  const partial = `${target}.partial`;
  const remove = async () => {
    const result = await run(["rm", "-rf", "--one-file-system", "--", partial], 600_000);
    if (result.code !== 0)
      throw new Error(`could not delete ${partial}: ${result.stderr.trim() || `exit ${result.code}`}`);
  };
  await mkdir(dirname(target), { recursive: true, mode: 0o750 });
  await remove(); // a copy a crash interrupted: never data under its own name
  const from = `${source.replace(/\/+$/, "")}/.`;
  const reflink = await run(["cp", "-a", "--reflink=always", "--", from, partial], timeoutMs);
  let copy: DataCopy = { method: "reflink" };
  if (reflink.code !== 0) {
    await remove();
    const plain = await run(["cp", "-a", "--reflink=auto", "--", from, partial], timeoutMs);
    if (plain.code !== 0) {
      await remove().catch(() => {});
      throw new Error(
        `could not copy ${source} to ${partial}: ${plain.stderr.trim() || `exit ${plain.code}`}`,
      );
    }
    copy = { method: "copy", noReflink: reflink.stderr.trim().split("\n").at(-1) || `exit ${reflink.code}` };
  }
  await rename(partial, target);
  return copy;
}

/** Where a Podman volume keeps its data on the host, or why it cannot be copied from there. */
export type VolumeData = { path: string } | { unusable: string };

/**
 * The host directory holding a Podman volume's data (from `podman volume inspect`): the bound
 * directory of a volume bound to one (`type=none`, `o=bind`, `device=DIR`), else its mount point.
 * A volume whose data lives anywhere else (another driver, tmpfs, NFS) is not a directory to copy.
 */
export function volumeDataPath(volume: {
  Name: string;
  Mountpoint: string;
  Driver?: string;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}): VolumeData {
  if (volume.Labels?.[LABELS.owner] === OWNER)
    return {
      unusable: `volume ${volume.Name} belongs to the platform (app ${volume.Labels[LABELS.app] ?? "unknown"}), it is not legacy data`,
    };
  if (volume.Driver !== undefined && volume.Driver !== "" && volume.Driver !== "local")
    return { unusable: `volume ${volume.Name} uses the ${volume.Driver} driver, not a local directory` };
  const options = volume.Options ?? {};
  const type = options.type ?? "";
  const bind = (options.o ?? "").split(",").some((o) => o === "bind" || o === "rbind");
  if (bind && options.device) return { path: options.device };
  if (type !== "" && type !== "none")
    return { unusable: `volume ${volume.Name} is a ${type} mount, not a local directory` };
  if (options.device)
    return { unusable: `volume ${volume.Name} mounts the device ${options.device}, not a local directory` };
  return { path: volume.Mountpoint };
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
