/**
 * Which host directories an app may be given (a `host-path` permission, the volumes and hook copies
 * under it), as pure rules over paths. An allow-list, not a list of forbidden places: a host path is
 * a directory of its own under /mnt, /media or /srv, where a node keeps data (its disks, removable
 * media, data served to others), and nothing else. Whatever else a node holds (its system, its
 * users' homes, the daemon's own data and keys, Podman's storage, things nobody thought of such as
 * a swap file) is out of reach by construction.
 *
 * Two checks use these rules:
 * - at validation, on the path as written (`hostPathProblem`): no node needed;
 * - on the node, at install, at every container start and every hook copy, on the path as it
 *   resolves through symbolic links (`resolvedHostPathProblem`): it must still be under one of the
 *   roots (as they resolve), and must not be, contain or be inside a protected directory, a system
 *   directory or one of the node's own (the daemon's data and runtime directories, the service
 *   user's home, Podman's storage and socket), wherever the operator put them.
 */

/** A path is canonical when it has no `.`/`..` segments, no empty segments and no trailing slash. */
export function isCanonicalAbsolute(path: string): boolean {
  if (!path.startsWith("/") || path.includes("\0")) return false;
  if (path === "/") return true;
  return path
    .slice(1)
    .split("/")
    .every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/** Where host paths live: a directory of its own under one of these (as it resolves on the node). */
export const HOST_PATH_ROOTS: readonly string[] = ["/mnt", "/media", "/srv"];

/** A directory no host path may be, contain or be inside, and what it holds (for the message). */
export type ProtectedDir = { path: string; what: string };

const PROGRAMS = "the system's programs";

/** System directories: refused in every relation, even where a root resolves into one of them. */
export const SYSTEM_DIRS: readonly ProtectedDir[] = [
  { path: "/bin", what: PROGRAMS },
  { path: "/boot", what: "the kernel and boot loader" },
  { path: "/dev", what: "the device nodes" },
  { path: "/etc", what: "the system's configuration" },
  { path: "/home", what: "users' homes, the daemon's data and keys among them" },
  { path: "/lib", what: PROGRAMS },
  { path: "/lib32", what: PROGRAMS },
  { path: "/lib64", what: PROGRAMS },
  { path: "/libx32", what: PROGRAMS },
  { path: "/proc", what: "the kernel's view of every process" },
  { path: "/root", what: "the administrator's home" },
  { path: "/run", what: "runtime state and sockets, Podman's among them" },
  { path: "/sbin", what: PROGRAMS },
  { path: "/sys", what: "the kernel's devices and settings" },
  { path: "/tmp", what: "a directory every local user can write to and plant links in" },
  { path: "/usr", what: PROGRAMS },
  { path: "/var", what: "the system's state: Podman's storage, logs, other services' data" },
];

/** A container engine's socket, by name: one would hand the app the whole host. */
export const ENGINE_SOCKET = /(^|\/)(docker|podman|containerd|crio)(\.sock)?($|\/)|\.sock$/;

/** How `path` relates to the directory `dir`. Both canonical and absolute. */
export type Relation = "is" | "contains" | "inside";

export function relation(path: string, dir: string): Relation | undefined {
  if (path === dir) return "is";
  const under = (inner: string, outer: string) =>
    inner.startsWith(outer === "/" ? "/" : `${outer}/`) && inner !== outer;
  // Everything is inside `/`: only being `/` counts for it.
  if (dir !== "/" && under(path, dir)) return "inside";
  if (under(dir, path)) return "contains";
  return undefined;
}

const PHRASE: Record<Relation, string> = { is: "is", contains: "contains", inside: "is inside" };

/**
 * A protected directory `path` is, is inside (the deepest) or contains, told as a reason: the most
 * telling one when several are (a data directory is inside /home, and a home holds Podman's storage).
 */
function protectedProblem(path: string, dirs: readonly ProtectedDir[]): string | undefined {
  const deepestFirst = [...dirs].sort((a, b) => b.path.length - a.path.length);
  for (const wanted of ["is", "inside", "contains"] as const)
    for (const dir of deepestFirst)
      if (relation(path, dir.path) === wanted) return `${PHRASE[wanted]} ${dir.path} (${dir.what})`;
  return undefined;
}

const ROOTS_TEXT = "/mnt, /media or /srv";

/** What to do about a refused host path, for messages. */
export const HOST_PATH_FIX = `use a directory of its own under ${ROOTS_TEXT}, such as /srv/media or /mnt/<disk> (data kept elsewhere can be bind-mounted there)`;

/**
 * Why a host path, as written in a manifest, can never be given to an app; undefined when it may
 * (with a permission the operator approves, and the node's own check at every use).
 */
export function hostPathProblem(path: string): string | undefined {
  return resolvedHostPathProblem({
    declared: path,
    resolved: path,
    roots: HOST_PATH_ROOTS,
    protectedDirs: SYSTEM_DIRS,
  });
}

/**
 * Where the platform this one replaces kept each app's data (`/var/lib/archipelago/<app>`): legacy
 * data (`adoption.data_paths`) is taken over from a directory of its own there, or from one a host
 * path could be.
 */
export const LEGACY_DATA_ROOT = "/var/lib/archipelago";

/** What the earlier platform kept under its data root that is no app's data. */
const LEGACY_PROTECTED: readonly ProtectedDir[] = [
  { path: `${LEGACY_DATA_ROOT}/secrets`, what: "the earlier platform's secrets of every app" },
];

const LEGACY_ROOTS_TEXT = `${LEGACY_DATA_ROOT}, ${ROOTS_TEXT}`;

/** What to do about a refused legacy data path, for messages. */
export const LEGACY_DATA_FIX = `take over only the app's own legacy data directory, such as ${LEGACY_DATA_ROOT}/<app> or a directory of its own under ${ROOTS_TEXT}`;

/**
 * Why a legacy data directory (copied once into the app's volume, read only) can never be taken
 * over; undefined when it may. An allow-list like host paths': a directory of its own under the
 * earlier platform's data root or under a host path root, never being, containing or inside a
 * protected directory — the system's, the earlier platform's secrets, and `nodeDirs` (the node's
 * own, known only on the node).
 */
export function legacyDataPathProblem(
  path: string,
  nodeDirs: readonly ProtectedDir[] = [],
  places: { legacyRoot: string; roots: readonly string[]; systemDirs: readonly ProtectedDir[] } = {
    legacyRoot: LEGACY_DATA_ROOT,
    roots: HOST_PATH_ROOTS,
    systemDirs: SYSTEM_DIRS,
  },
): string | undefined {
  const { legacyRoot, roots, systemDirs } = places;
  if (!isCanonicalAbsolute(path))
    return "it is not a canonical absolute path (no `.`, `..`, `//` or trailing `/`)";
  if (ENGINE_SOCKET.test(path))
    return "it is or contains a container engine socket, which would hand the app the whole host";
  if (relation(path, legacyRoot) === "inside") {
    const secrets = LEGACY_PROTECTED.map((dir) => ({
      ...dir,
      path: dir.path.replace(LEGACY_DATA_ROOT, legacyRoot),
    }));
    const found = protectedProblem(path, [...secrets, ...nodeDirs]);
    return found && `it ${found}`;
  }
  if (!roots.some((root) => relation(path, root) === "inside"))
    return `it is not a directory of its own under ${LEGACY_ROOTS_TEXT}, the only places legacy data is taken over from`;
  return resolvedHostPathProblem({
    declared: path,
    resolved: path,
    roots,
    protectedDirs: [...systemDirs, ...nodeDirs],
  });
}

/** What the node found of a host path, and what it protects. */
export type ResolvedHostPath = {
  /** The path as the manifest writes it. */
  declared: string;
  /** Where it resolves now, through every symbolic link (the declared path when not looked up). */
  resolved: string;
  /** The allowed roots, as written and as they resolve on this node. */
  roots: readonly string[];
  /** The system's and the node's own directories, as configured and as they resolve. */
  protectedDirs: readonly ProtectedDir[];
};

/**
 * Why a host path, as it resolves on the node now, can not be given to an app; undefined when it
 * may. Both the declared and the resolved path must be a directory of its own under a root and
 * must not be, contain or be inside a protected directory: a link may not lead out of the roots or
 * into anything protected, and a path may not hold the node's own directories wherever they are (a
 * data directory under /srv).
 */
export function resolvedHostPathProblem(input: ResolvedHostPath): string | undefined {
  const { declared, resolved, roots } = input;
  if (!isCanonicalAbsolute(declared))
    return "it is not a canonical absolute path (no `.`, `..`, `//` or trailing `/`)";
  for (const path of resolved === declared ? [declared] : [declared, resolved]) {
    const it = path === declared ? "it" : `through a symbolic link, it resolves to ${resolved}, which`;
    if (ENGINE_SOCKET.test(path))
      return `${it} is or contains a container engine socket, which would hand the app the whole host`;
    if (path === "/") return `${it} is the root of the file system: the whole node`;
    const found = protectedProblem(path, input.protectedDirs);
    if (found) return `${it} ${found}`;
    if (roots.includes(path))
      return `${it} is ${path} itself, which holds what everyone else keeps there: grant a directory of its own`;
    if (!roots.some((root) => relation(path, root) === "inside"))
      return `${it} is not under ${ROOTS_TEXT}, the only places host paths may be`;
  }
  return undefined;
}
