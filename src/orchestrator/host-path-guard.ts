/**
 * The node's check of host paths (the I/O around `resolvedHostPathProblem`): every host path an app
 * uses is resolved through its symbolic links and checked against the allowed roots and the
 * protected directories as they are on this node *now*. It runs at install, right before every
 * container is created, started or restarted, while its containers run (a reconcile pass), and at
 * every hook copy: a path that was fine at install and became a link to the daemon's data since is
 * refused at its next use. A path that does not exist is refused at once, naming it, before
 * anything is created.
 */
import { lstat, realpath, stat } from "node:fs/promises";
import {
  HOST_PATH_FIX,
  HOST_PATH_ROOTS,
  LEGACY_DATA_FIX,
  LEGACY_DATA_ROOT,
  legacyDataPathProblem,
  type ProtectedDir,
  resolvedHostPathProblem,
  SYSTEM_DIRS,
} from "../manifest/host-paths.ts";
import type { Manifest } from "../manifest/schema.ts";
import { fileProblem } from "../system/fs-errors.ts";

/**
 * A host path the node will not give an app: `missing` (it does not exist: create it), `refused`
 * (it leads where no app may go). Both are for the operator to fix; retrying alone never helps.
 */
export class HostPathError extends Error {
  override name = "HostPathError";
  readonly kind: "missing" | "refused";
  constructor(kind: "missing" | "refused", message: string) {
    super(message);
    this.kind = kind;
  }
}

export type HostPathGuardOptions = {
  /** The node's own directories, asked at every check (they may move, or become links). */
  protectedDirs: () => Promise<readonly ProtectedDir[]> | readonly ProtectedDir[];
  /** Where host paths may be (default /mnt, /media, /srv); tests use a sandbox of their own. */
  roots?: readonly string[];
  /** The system directories (default `SYSTEM_DIRS`); tests use a sandbox of their own. */
  systemDirs?: readonly ProtectedDir[];
  /** Where the earlier platform kept app data (default `LEGACY_DATA_ROOT`); tests use a sandbox. */
  legacyRoot?: string;
};

/** A host path an app uses, and for what (told in messages). */
export type HostPathUse = { path: string; use: string };

/**
 * The host paths a manifest uses: the host volumes of the containers `keys` with the permissions
 * that grant them, or (without `keys`) every host-path permission and host volume.
 */
export function hostPathUses(manifest: Manifest, keys?: readonly string[]): HostPathUse[] {
  const permissions = new Set<string>();
  const volumes: HostPathUse[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    if (keys !== undefined && !keys.includes(key)) continue;
    for (const volume of container.volumes) {
      if (volume.host_path === undefined) continue;
      volumes.push({ path: volume.host_path, use: `mounted at ${key}:${volume.path}` });
      if (volume.permission !== undefined) permissions.add(volume.permission);
    }
  }
  const granted = Object.entries(manifest.permissions).flatMap(([name, permission]) =>
    permission.kind === "host-path" && (keys === undefined || permissions.has(name))
      ? [{ path: permission.path, use: `permission ${name}` }]
      : [],
  );
  return [...granted, ...volumes];
}

/** What a file that is neither a directory nor a regular file is, for messages. */
function kindOf(info: Awaited<ReturnType<typeof stat>>): string {
  if (info.isSocket()) return "a socket";
  if (info.isFIFO()) return "a named pipe";
  if (info.isCharacterDevice() || info.isBlockDevice()) return "a device";
  return "not a directory or a regular file";
}

/** The roots and the protected directories of this node now. */
type Facts = { roots: string[]; protectedDirs: ProtectedDir[] };

const resolves = async (path: string): Promise<string | undefined> => realpath(path).catch(() => undefined);

export class HostPathGuard {
  readonly #options: HostPathGuardOptions;

  constructor(options: HostPathGuardOptions) {
    this.#options = options;
  }

  /** The roots and protected directories, each as written and as it resolves now. */
  async #facts(): Promise<Facts> {
    const roots = this.#options.roots ?? HOST_PATH_ROOTS;
    const dirs = [...(this.#options.systemDirs ?? SYSTEM_DIRS), ...(await this.#options.protectedDirs())];
    const resolvedRoots = await Promise.all(roots.map(resolves));
    const resolvedDirs = await Promise.all(
      dirs.map(async (dir) => {
        const real = await resolves(dir.path);
        return real && real !== dir.path ? [{ ...dir, path: real }] : [];
      }),
    );
    return {
      // A root that resolves to `/` (a link made by mistake) would let everything in: it counts as written only.
      roots: [
        ...new Set([...roots, ...resolvedRoots.filter((r): r is string => r !== undefined && r !== "/")]),
      ],
      protectedDirs: [...dirs, ...resolvedDirs.flat()],
    };
  }

  /**
   * Where `path` resolves, once it is known that an app may have it: it exists, is a directory or
   * a regular file, and neither it nor where it leads is refused. Throws a `HostPathError` that
   * names the path, what it is for, why and what to do.
   */
  async resolve(path: string, use: string): Promise<string> {
    return this.#resolve(path, use, await this.#facts());
  }

  async #resolve(path: string, use: string, facts: Facts): Promise<string> {
    const what = `host path ${path} (${use})`;
    // As written first: a path no app may have is refused whatever is (or is not) there.
    const written = resolvedHostPathProblem({ declared: path, resolved: path, ...facts });
    if (written) throw new HostPathError("refused", `${what} is refused: ${written}; ${HOST_PATH_FIX}`);
    let resolved: string;
    try {
      resolved = await realpath(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR")
        throw new HostPathError(
          "missing",
          `${what} does not exist${await danglingLink(path)}: create it (or mount the disk there) as the operator, then retry the app`,
        );
      throw new HostPathError("refused", `${what} cannot be looked up: ${fileProblem(error, path)}`);
    }
    const problem = resolvedHostPathProblem({ declared: path, resolved, ...facts });
    if (problem) throw new HostPathError("refused", `${what} is refused: ${problem}; ${HOST_PATH_FIX}`);
    const info = await stat(resolved).catch((error: unknown) => {
      throw new HostPathError("refused", `${what} cannot be looked up: ${fileProblem(error, resolved)}`);
    });
    if (!info.isDirectory() && !info.isFile())
      throw new HostPathError(
        "refused",
        `${what} is refused: it is ${kindOf(info)}, not a directory or a file; ${HOST_PATH_FIX}`,
      );
    return resolved;
  }

  /**
   * Checks every host path `manifest` uses (see `hostPathUses`); throws one `HostPathError` naming
   * every problem (`refused` when any path is).
   */
  async check(manifest: Manifest, keys?: readonly string[]): Promise<void> {
    const uses = hostPathUses(manifest, keys);
    if (uses.length === 0) return;
    const facts = await this.#facts();
    const problems: HostPathError[] = [];
    const seen = new Set<string>();
    for (const { path, use } of uses) {
      if (seen.has(path)) continue;
      seen.add(path);
      await this.#resolve(path, use, facts).catch((error: unknown) => {
        if (!(error instanceof HostPathError)) throw error;
        problems.push(error);
      });
    }
    if (problems.length === 0) return;
    throw new HostPathError(
      problems.some((p) => p.kind === "refused") ? "refused" : "missing",
      problems.map((p) => p.message).join("; "),
    );
  }

  /**
   * Checks the legacy data directories the manifest takes over (`adoption.data_paths`), as written
   * and as they resolve now, against the node's own directories: the copy reads them with the
   * daemon's rights, so one holding the daemon's data, state or Podman's storage would hand it to
   * the app. One that does not exist is the adoption's business (a fresh start), not a refusal.
   */
  async checkLegacy(manifest: Manifest): Promise<void> {
    const paths = Object.values(manifest.adoption.data_paths);
    if (paths.length === 0) return;
    const { roots, protectedDirs } = await this.#facts();
    const legacyRoot = this.#options.legacyRoot ?? LEGACY_DATA_ROOT;
    // A node whose data directory is the earlier platform's root keeps legacy data beside its own:
    // there its parts are protected (its state here, its apps' data and snapshots in adoption.ts).
    const systemDirs = this.#options.systemDirs ?? SYSTEM_DIRS;
    const nodeDirs = protectedDirs.filter((dir) => !systemDirs.includes(dir) && dir.path !== legacyRoot);
    const places = { legacyRoot, roots, systemDirs };
    const problems: string[] = [];
    for (const path of paths) {
      const resolved = await resolves(path);
      for (const seen of resolved === undefined || resolved === path ? [path] : [path, resolved]) {
        const problem = legacyDataPathProblem(seen, nodeDirs, places);
        if (!problem) continue;
        const how = seen === path ? "" : ` (through a symbolic link, it resolves to ${seen})`;
        problems.push(`legacy data path ${path}${how} cannot be taken over: ${problem}`);
        break;
      }
    }
    if (problems.length > 0) throw new HostPathError("refused", `${problems.join("; ")}; ${LEGACY_DATA_FIX}`);
  }
}

/** Says so when `path` is a symbolic link leading nowhere, else nothing. */
async function danglingLink(path: string): Promise<string> {
  const info = await lstat(path).catch(() => undefined);
  return info?.isSymbolicLink() ? " (it is a symbolic link to nothing)" : "";
}
