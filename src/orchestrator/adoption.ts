/**
 * Taking over legacy data (the manifest's `adoption.data_paths` and `adoption.volumes`): an app
 * volume whose data directory does not exist yet starts as a copy of the legacy host directory, or
 * else of the legacy Podman volume's data, instead of empty. The legacy source is only read — never
 * modified, moved or deleted — and a data directory that exists is never overwritten, so the copy
 * happens once.
 *
 * While a legacy container that mounts the source still runs (an adopted container about to be
 * recreated: the planner prepares before it stops it), `prepare` leaves that directory for
 * later, and the copy is made right before the container that mounts it is created, when the
 * legacy container has stopped writing to it.
 *
 * The decisions are pure (`decideTakeOver`); the I/O around them gathers the facts and acts.
 */
import { lstat, realpath, stat } from "node:fs/promises";
import type { Manifest } from "../manifest/schema.ts";
import type { ResolvedApp, ResolvedVolume } from "../render/model.ts";
import { copyIntoDataDir, type DataCopy, ensureDataDirs } from "../runtime/data-dirs.ts";
import type { ContainerMounts, Runtime } from "../runtime/runtime.ts";
import type { Note } from "./model.ts";

/** A legacy source of one app volume, as the manifest declares it. */
export type LegacyRef = { kind: "data-path"; path: string } | { kind: "volume"; name: string };

/** What was found of a legacy source on the node. */
export type SourceFacts =
  | { ref: LegacyRef; state: "missing" }
  /** `realPath`: where the declared path resolves (data paths); `directory`: whether it is one. */
  | { ref: LegacyRef; state: "found"; path: string; realPath: string; directory: boolean }
  | { ref: LegacyRef; state: "unusable"; reason: string };

export type TakeOverInput = {
  /** The app volume and its data directory. */
  volume: string;
  target: string;
  targetExists: boolean;
  /** The node's data root, as configured and as it resolves (see `platformDirs`). */
  dataRoots: string[];
  /** In order of preference (see `legacySources`). */
  sources: SourceFacts[];
  /** The legacy containers of the app that run, with what they mount. */
  running: ContainerMounts[];
  /** `prepare` may wait for a legacy container to stop; `create` needs the directory now. */
  stage: "prepare" | "create";
};

export type TakeOverDecision =
  /** The directory exists: it is the app's data, never overwritten. */
  | { kind: "keep" }
  /** No legacy source declared: a new empty directory. */
  | { kind: "create" }
  /** Legacy sources declared, none on the node: a new empty directory, and the operator is told. */
  | { kind: "fresh"; missing: LegacyRef[] }
  | { kind: "copy"; ref: LegacyRef; from: string; missing: LegacyRef[]; stillUsedBy: string[] }
  /** A legacy container still writes to the source: copy later (before the create). */
  | { kind: "defer"; ref: LegacyRef; usedBy: string[] }
  /** Refused: the app fails with this reason, nothing is created (the next attempt decides again). */
  | { kind: "refuse"; reason: string };

/** The legacy sources the manifest declares for an app volume: the host directory first, then the Podman volume. */
export function legacySources(manifest: Manifest, volume: string): LegacyRef[] {
  const refs: LegacyRef[] = [];
  const path = manifest.adoption.data_paths[volume];
  if (path !== undefined) refs.push({ kind: "data-path", path });
  const name = manifest.adoption.volumes[volume];
  if (name !== undefined) refs.push({ kind: "volume", name });
  return refs;
}

/** Every legacy container name the manifest declares (any container key), sorted. */
export function legacyContainerNames(manifest: Manifest): string[] {
  return [...new Set(Object.values(manifest.adoption.containers).flat())].sort();
}

/** The operator's words for a legacy source. */
export function describeRef(ref: LegacyRef): string {
  return ref.kind === "data-path" ? `legacy data path ${ref.path}` : `legacy Podman volume ${ref.name}`;
}

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir.replace(/\/+$/, "")}/`);

/**
 * The platform's own directories under a data root: apps' data, update snapshots, the state (store
 * and secrets). A legacy source may sit beside them (`/var/lib/archipelago/<old app>`), never in them.
 */
export function platformDirs(dataRoot: string): string[] {
  const root = dataRoot.replace(/\/+$/, "");
  return ["apps", "snapshots", "state"].map((dir) => `${root}/${dir}`);
}

/** Whether a running container mounts a legacy source (the volume by name, or a path overlapping it). */
export function mountsSource(container: ContainerMounts, ref: LegacyRef, path: string): boolean {
  if (ref.kind === "volume" && container.volumes.includes(ref.name)) return true;
  return container.paths.some((p) => within(p, path) || within(path, p));
}

/** What to do for one app volume's data directory. Pure. */
export function decideTakeOver(input: TakeOverInput): TakeOverDecision {
  if (input.targetExists) return { kind: "keep" };
  if (input.sources.length === 0) return { kind: "create" };
  const missing: LegacyRef[] = [];
  for (const source of input.sources) {
    if (source.state === "missing") {
      missing.push(source.ref);
      continue;
    }
    const what = describeRef(source.ref);
    if (source.state === "unusable")
      return {
        kind: "refuse",
        reason: `cannot take over ${what} for volume ${input.volume}: ${source.reason}`,
      };
    if (source.ref.kind === "data-path" && source.realPath !== source.ref.path)
      return {
        kind: "refuse",
        reason: `refusing to take over ${what} for volume ${input.volume}: it resolves to ${source.realPath}, not to the declared path (through a symbolic link); declare the real directory`,
      };
    if (!source.directory)
      return {
        kind: "refuse",
        reason: `cannot take over ${what} for volume ${input.volume}: ${source.path} is not a directory`,
      };
    const platform = input.dataRoots.find(
      (root) =>
        within(root, source.path) ||
        platformDirs(root).some((dir) => within(source.path, dir) || within(dir, source.path)),
    );
    if (platform !== undefined)
      return {
        kind: "refuse",
        reason: `refusing to take over ${what} for volume ${input.volume}: ${source.path} is or holds the platform's own data under ${platform} (apps' data, snapshots, secrets), never legacy data`,
      };
    const usedBy = input.running.filter((c) => mountsSource(c, source.ref, source.path)).map((c) => c.name);
    if (usedBy.length > 0 && input.stage === "prepare") return { kind: "defer", ref: source.ref, usedBy };
    return { kind: "copy", ref: source.ref, from: source.path, missing, stillUsedBy: usedBy };
  }
  return { kind: "fresh", missing };
}

/** What the adoption needs from the runtime (a fake in unit tests). */
export type AdoptionRuntime = Pick<Runtime, "legacyVolumeData" | "runningMounts">;

export type AdoptionOptions = {
  /** Copies a legacy directory into place (default `copyIntoDataDir`). */
  copy?: (source: string, target: string) => Promise<DataCopy | undefined>;
};

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

async function factsOf(runtime: AdoptionRuntime, ref: LegacyRef): Promise<SourceFacts> {
  let path: string;
  if (ref.kind === "volume") {
    const data = await runtime.legacyVolumeData(ref.name);
    if (data === undefined) return { ref, state: "missing" };
    if ("unusable" in data) return { ref, state: "unusable", reason: data.unusable };
    path = data.path;
  } else path = ref.path;
  try {
    await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ref, state: "missing" };
    return { ref, state: "unusable", reason: `cannot look at ${path}: ${(error as Error).message}` };
  }
  try {
    const real = await realpath(path);
    // The volume's own path comes from Podman, not from the manifest: only its target counts.
    const directory = (await stat(real)).isDirectory();
    return { ref, state: "found", path: ref.kind === "volume" ? real : path, realPath: real, directory };
  } catch (error) {
    return { ref, state: "unusable", reason: `cannot resolve ${path}: ${(error as Error).message}` };
  }
}

/**
 * Makes sure the data directories of `volumes` exist, taking over legacy data where the manifest
 * declares some. `prepare` creates every directory except those whose legacy source a running
 * legacy container still uses; `create` (right before a container is created) handles only the
 * volumes with a legacy source, the ones `prepare` left.
 */
export async function ensureAppData(
  runtime: AdoptionRuntime,
  manifest: Manifest,
  volumes: ResolvedVolume[],
  stage: "prepare" | "create",
  note: Note,
  options: AdoptionOptions = {},
): Promise<void> {
  const copy = options.copy ?? ((source: string, target: string) => copyIntoDataDir(source, target));
  const plain: ResolvedVolume[] = [];
  let running: ContainerMounts[] | undefined;
  let dataRoots: string[] | undefined;
  for (const volume of volumes) {
    const refs = legacySources(manifest, volume.volume);
    if (refs.length === 0) {
      if (stage === "prepare") plain.push(volume);
      continue;
    }
    const targetExists = await exists(volume.hostPath);
    if (targetExists) continue;
    const sources: SourceFacts[] = [];
    for (const ref of refs) sources.push(await factsOf(runtime, ref));
    const names = legacyContainerNames(manifest);
    if (running === undefined && sources.some((s) => s.state === "found"))
      running = names.length > 0 ? await runtime.runningMounts(names) : [];
    dataRoots ??= await dataRootsOf(manifest.id, volume);
    const decision = decideTakeOver({
      volume: volume.volume,
      target: volume.hostPath,
      targetExists,
      dataRoots,
      sources,
      running: running ?? [],
      stage,
    });
    await act(decision, volume, note, copy);
  }
  await createDirs(plain, note);
}

/** The data root a volume's directory is under (see `volumeHostPath`), as configured and as it resolves. */
async function dataRootsOf(appId: string, volume: ResolvedVolume): Promise<string[]> {
  const suffix = `/apps/${appId}/volumes/${volume.volume}`;
  if (!volume.hostPath.endsWith(suffix))
    throw new Error(`${volume.hostPath} is not an app data directory (…${suffix})`);
  const root = volume.hostPath.slice(0, -suffix.length) || "/";
  const real = await realpath(root).catch(() => root);
  return [...new Set([root, real])];
}

async function createDirs(volumes: ResolvedVolume[], note: Note): Promise<void> {
  if (volumes.length === 0) return;
  const { created } = await ensureDataDirs(volumes.map((v) => ({ path: v.hostPath, uid: v.dataUid })));
  for (const dir of created) note("info", `created data directory ${dir}`);
}

async function act(
  decision: TakeOverDecision,
  volume: ResolvedVolume,
  note: Note,
  copy: NonNullable<AdoptionOptions["copy"]>,
): Promise<void> {
  switch (decision.kind) {
    case "keep":
      return;
    case "create":
      return createDirs([volume], note);
    case "refuse":
      throw new Error(decision.reason);
    case "defer":
      note(
        "info",
        `volume ${volume.volume}: taking over ${describeRef(decision.ref)} waits until ${decision.usedBy.join(", ")} stops using it (right before the new container is created)`,
      );
      return;
    case "fresh":
      // The usual case (every new node): said as a first start, not as something missing.
      note(
        "info",
        `volume ${volume.volume}: a first start, with new empty data (nothing to take over from an earlier installation: ${decision.missing.map((ref) => `no ${describeRef(ref)}`).join(", ")})`,
      );
      return createDirs([volume], note);
    case "copy": {
      const what = describeRef(decision.ref);
      if (decision.stillUsedBy.length > 0)
        note(
          "warn",
          `volume ${volume.volume}: ${decision.stillUsedBy.join(", ")} still runs with ${what}: what it writes from now on stays there`,
        );
      if (decision.missing.length > 0)
        note("info", `volume ${volume.volume}: ${decision.missing.map(describeRef).join(" and ")} not found`);
      note("info", `volume ${volume.volume}: taking over ${what} (${decision.from}) into ${volume.hostPath}`);
      const done = await copy(decision.from, volume.hostPath);
      if (done === undefined) return; // it appeared meanwhile: never overwritten
      note(
        "info",
        `volume ${volume.volume}: took over ${what} into ${volume.hostPath} by ${
          done.method === "reflink"
            ? "reflink (a copy-on-write clone)"
            : `plain copy (no reflink here: ${done.noReflink ?? "not offered"})`
        }, ownership and modes kept; the ${decision.ref.kind === "volume" ? "legacy volume" : "legacy directory"} is left as it was`,
      );
      return;
    }
  }
}

/** The app volumes one container mounts. */
export function volumesOf(app: ResolvedApp, key: string): ResolvedVolume[] {
  const container = app.containers.find((c) => c.key === key);
  if (!container) return [];
  const names = new Set(container.mounts.flatMap((m) => (m.kind === "volume" ? [m.volume] : [])));
  return app.volumes.filter((v) => names.has(v.volume));
}
