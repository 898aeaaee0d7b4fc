/**
 * Pulling an app's images, the step before anything of it is created, stopped or replaced: each
 * image the manifest names that is not on the node (a targeted, bounded inspect; never a walk of
 * the store) is pulled with the credentials stored for its registry, its progress reported per
 * layer. A registry that cannot be reached is tried again with backoff; a refusal (401/403), an
 * image that does not exist (404, manifest unknown) or bytes that do not match their digest are
 * not: they fail at once, naming the image and what to do. Before the first byte is downloaded,
 * the images' size (as their registries list it) is checked against the free space of Podman's
 * storage: images that cannot fit are refused, with both figures and what to free.
 *
 * An image pinned by digest is asked of the operator's peers first (docs/peers.md): a peer that
 * serves other bytes than the digests name is dropped for the rest of the step, one that lacks the
 * image is passed over, and the image's registry — its origin — is used when no peer served it.
 * A node that shares keeps what it pulls in its peer cache: its pulls go through the cache.
 */

import type { Manifest } from "../manifest/schema.ts";
import type { PullSources } from "../peers/image-fetch.ts";
import { pinnedDigest } from "../registry/image-archive.ts";
import { registryOf } from "../registry/reference.ts";
import { podmanPlan } from "../render/podman-spec.ts";
import {
  PullFailure,
  type PullFailureKind,
  type PullProgress,
  type RegistryAuth,
  type Runtime,
} from "../runtime/runtime.ts";
import type { LayerProgress, LayerRate, Note, ReconcilerEvent } from "./model.ts";
import type { RenderContexts } from "./render-contexts.ts";
import type { AppRow, Store } from "./store.ts";
import { formatBytes, type RoomCheck } from "./update.ts";

export class ImagePullError extends Error {
  override name = "ImagePullError";
  readonly kind: PullFailureKind;
  readonly image: string;
  constructor(kind: PullFailureKind, image: string, message: string) {
    super(message);
    this.kind = kind;
    this.image = image;
  }
}

/** What the pull step needs of the runtime. */
export type ImageDoor = Pick<
  Runtime,
  "imagePresent" | "pullImage" | "imageDownloadBytes" | "imageStorageSpace"
>;

export type PullPolicy = {
  /** Tries of an image whose registry cannot be reached, in all. */
  attempts: number;
  /** The wait before the second try; doubled before each further one. */
  baseDelayMs: number;
};

export const DEFAULT_PULL_POLICY: PullPolicy = { attempts: 4, baseDelayMs: 2_000 };

export type PullStepOptions = {
  runtime: ImageDoor;
  sources?: PullSources;
  credentialsFor: (image: string) => RegistryAuth | undefined;
  note: Note;
  onProgress?: (progress: LayerProgress) => void;
  policy?: PullPolicy;
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds, for the download rates (default Date.now). */
  clock?: () => number;
};

/**
 * What an image takes in Podman's storage, in times the bytes its pull downloads: the compressed
 * blobs while they are unpacked, and the layers unpacked, which are about twice their compressed
 * size for most images (more for code and text, less for media). Registries list only the
 * compressed sizes.
 */
export const IMAGE_ROOM_FACTOR = 3;

/** Whether images that download `downloadBytes` fit in `freeBytes` of the storage at `where`. */
export function imageRoomCheck(downloadBytes: number, freeBytes: number, where: string): RoomCheck {
  const neededBytes = downloadBytes * IMAGE_ROOM_FACTOR;
  if (freeBytes >= neededBytes) return { ok: true, neededBytes };
  return {
    ok: false,
    neededBytes,
    message: `not enough free space for the images: they download ${formatBytes(downloadBytes)}, about ${formatBytes(neededBytes)} in Podman's storage once unpacked (${IMAGE_ROOM_FACTOR}× what they download), and ${where} has ${formatBytes(freeBytes)} free; free at least ${formatBytes(neededBytes - freeBytes)} there (\`podman image prune\` as the daemon's user removes the images no container uses, \`podman system df\` shows what takes the space), then retry`,
  };
}

/** The advice that goes with each kind of failure. */
function advice(kind: PullFailureKind, registry: string): string {
  switch (kind) {
    case "denied":
      return `the registry ${registry} refused the credentials (or has none for this image): give the node its credentials with \`archy registry login ${registry}\`, then retry`;
    case "not-found":
      return `the registry ${registry} has no such image or digest: check the manifest's image reference`;
    case "corrupt":
      return `what ${registry} sent does not match the image's digest: nothing of it was kept; the registry serves other bytes than the ones pinned, report it to its operator`;
    case "unreachable":
      return `the registry ${registry} could not be reached: check the node's network and the registry, then retry`;
    case "no-space":
      return "Podman's storage is full: free space there (`podman image prune` as the daemon's user removes the images no container uses), then retry";
  }
}

/** `current` of `total` bytes received, and, once there is a rate, how fast and how long still. */
function describeLayerBytes(progress: LayerRate & { current: number; total: number }): string {
  const base = `${formatBytes(progress.current)} of ${formatBytes(progress.total)} (${Math.floor((100 * progress.current) / progress.total)}%)`;
  if (progress.bytesPerSecond === undefined) return base;
  const left = progress.secondsLeft === undefined ? "" : `, ${formatSeconds(progress.secondsLeft)} left`;
  return `${base} at ${formatBytes(Math.round(progress.bytesPerSecond))}/s${left}`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes} min ${seconds % 60} s`
    : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * Adds each layer's download rate (its bytes since its first report over the time since) and the
 * time its remaining bytes take at that rate to the progress Podman reports.
 */
function layerRates(clock: () => number): (progress: PullProgress) => PullProgress & LayerRate {
  const firstSeen = new Map<string, { at: number; bytes: number }>();
  return (progress) => {
    if (progress.status !== "downloading" || progress.current === undefined) return progress;
    const now = clock();
    const first = firstSeen.get(progress.layer);
    if (!first) {
      firstSeen.set(progress.layer, { at: now, bytes: progress.current });
      return progress;
    }
    const received = progress.current - first.bytes;
    if (now <= first.at || received <= 0) return progress;
    const bytesPerSecond = (1000 * received) / (now - first.at);
    return {
      ...progress,
      bytesPerSecond,
      ...(progress.total !== undefined
        ? { secondsLeft: Math.ceil(Math.max(0, progress.total - progress.current) / bytesPerSecond) }
        : {}),
    };
  };
}

/**
 * A line per layer in the operation log: when it starts, at each quarter of its bytes, and when it
 * is done (the events carry every update; the log stays readable).
 */
function progressNotes(image: string, note: Note): (progress: PullProgress & LayerRate) => void {
  const quarters = new Map<string, number>();
  return (progress) => {
    const layer = `${image} layer ${progress.layer}`;
    if (progress.status === "present") note("info", `${layer}: already on this node`);
    else if (progress.status === "done" && quarters.get(progress.layer) !== 4) {
      quarters.set(progress.layer, 4);
      note("info", `${layer}: downloaded`);
    } else if (progress.status === "downloading" && progress.total && progress.current !== undefined) {
      const quarter = Math.floor((4 * progress.current) / progress.total);
      if (quarter <= (quarters.get(progress.layer) ?? -1)) return;
      quarters.set(progress.layer, quarter);
      note(
        "info",
        `${layer}: ${describeLayerBytes({ ...progress, current: progress.current, total: progress.total })}`,
      );
    }
  };
}

/**
 * Refuses, before anything is downloaded, images that do not fit in Podman's storage: what their
 * registries list (an image whose size its registry cannot say is noted and not counted; its pull
 * reports what is wrong) against the storage's free space.
 */
async function checkRoom(images: readonly string[], options: PullStepOptions): Promise<void> {
  // All at once: each is a round trip (to a registry, to Podman) and the pull waits for them.
  const [sizes, space] = await Promise.all([
    Promise.all(
      images.map((image) =>
        options.runtime.imageDownloadBytes(image, options.credentialsFor(image)).catch((error: Error) => {
          options.note(
            "warn",
            `the size of ${image} is unknown (${error.message}): the free space is not checked for it`,
          );
          return 0;
        }),
      ),
    ),
    options.runtime.imageStorageSpace(),
  ]);
  const downloadBytes = sizes.reduce((sum, bytes) => sum + bytes, 0);
  if (downloadBytes === 0) return;
  const room = imageRoomCheck(downloadBytes, space.freeBytes, space.path);
  if (!room.ok) throw new ImagePullError("no-space", images.join(", "), room.message);
  options.note(
    "info",
    `${images.length === 1 ? "the image downloads" : `${images.length} images download`} ${formatBytes(downloadBytes)}; ${formatBytes(space.freeBytes)} free in ${space.path}`,
  );
}

/**
 * Pulls every image of `images` that is not on the node, in order; resolves when all are here.
 * Throws an ImagePullError naming the first image that could not be pulled, or (before any pull)
 * the images when they do not fit.
 */
export async function pullMissing(
  images: readonly string[],
  registryOf: (image: string) => string,
  options: PullStepOptions,
): Promise<void> {
  const missing: string[] = [];
  for (const image of new Set(images)) {
    if (await options.runtime.imagePresent(image)) continue;
    // Podman's name for images built or loaded on the node: no registry has them.
    if (registryOf(image) === "localhost")
      throw new ImagePullError(
        "not-found",
        image,
        `image ${image} is not on this node, and localhost/ images are never pulled: build or load it (podman load), then retry`,
      );
    missing.push(image);
  }
  if (missing.length > 0) await checkRoom(missing, options);
  // A peer that lied is not asked again in this step, whatever the image.
  const dropped = new Set<string>();
  for (const image of missing) {
    const registry = registryOf(image);
    const auth = options.credentialsFor(image);
    const pinned = pinnedDigest(image) !== undefined;
    const from =
      (pinned &&
        options.sources &&
        (await fromPeers(image, registry, options.sources, dropped, options.note))) ||
      (pinned && (await throughCache(image, registry, auth, options))) ||
      (await pullWithPodman(image, registry, auth, options));
    // Present now: a pull that ended without an error but left no image is a failure too.
    if (!(await options.runtime.imagePresent(image)))
      throw new ImagePullError("not-found", image, `image ${image} is not on the node after its pull`);
    options.note("info", `pulled ${image}${from}`);
  }
}

/**
 * Asks the peers not dropped yet for `image`, in order; says who served it (` from peer URL`), or
 * undefined when none did.
 */
async function fromPeers(
  image: string,
  registry: string,
  sources: PullSources,
  dropped: Set<string>,
  note: Note,
): Promise<string | undefined> {
  for (const peer of sources.peers) {
    if (dropped.has(peer.url)) continue;
    note("info", `asking peer ${peer.url} for ${image}`);
    const copy = await sources.fromPeer(peer, image);
    if (copy.served) return ` from peer ${peer.url} (every blob verified against its digest)`;
    if (copy.lied) {
      dropped.add(peer.url);
      note(
        "warn",
        `peer ${peer.url} dropped for the rest of this operation: what it served for ${image} is not what its digest names (${copy.problem}); nothing of it was kept, the origin ${registry} is used`,
      );
    } else note("info", `peer ${peer.url} did not serve ${image}: ${copy.problem}`);
  }
  return undefined;
}

/** When the node shares, pulls `image` from its registry through the peer cache; undefined when it does not share or that failed. */
async function throughCache(
  image: string,
  registry: string,
  auth: RegistryAuth | undefined,
  options: PullStepOptions,
): Promise<string | undefined> {
  const copy = options.sources?.throughCache;
  if (!copy) return undefined;
  options.note(
    "info",
    `pulling ${image} from ${registry}${auth ? ` as ${auth.username}` : " (no credentials stored)"} into the node's peer cache (it shares its images: no per-layer progress)`,
  );
  try {
    await copy(image, auth);
    return ` from ${registry} (kept for peers)`;
  } catch (error) {
    options.note(
      "warn",
      `pulling ${image} through the peer cache failed: ${(error as Error).message}; Podman pulls it instead`,
    );
    return undefined;
  }
}

/** Podman's pull of `image` from its registry, with progress, tried again while the registry cannot be reached. */
async function pullWithPodman(
  image: string,
  registry: string,
  auth: RegistryAuth | undefined,
  options: PullStepOptions,
): Promise<string> {
  const policy = options.policy ?? DEFAULT_PULL_POLICY;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  options.note(
    "info",
    `pulling ${image} from ${registry}${auth ? ` as ${auth.username}` : " (no credentials stored)"}`,
  );
  const toLog = progressNotes(image, options.note);
  const rated = layerRates(options.clock ?? Date.now);
  for (let attempt = 1; ; attempt++) {
    try {
      await options.runtime.pullImage(image, {
        auth,
        onProgress: (reported) => {
          const progress = rated(reported);
          toLog(progress);
          options.onProgress?.({ ...progress, image });
        },
      });
      return "";
    } catch (error) {
      // Only what the registry failed is the pull step's; an engine that does not answer is the
      // reconciler's to wait out, like every engine call.
      if (!(error instanceof PullFailure)) throw error;
      const { kind, reason } = error;
      if (kind !== "unreachable" || attempt >= policy.attempts)
        throw new ImagePullError(
          kind,
          image,
          `image ${image} could not be pulled${kind === "unreachable" ? ` (${attempt} tries)` : ""}: ${reason}; ${advice(kind, registry)}`,
        );
      const delay = policy.baseDelayMs * 2 ** (attempt - 1);
      options.note(
        "warn",
        `pulling ${image} failed (try ${attempt} of ${policy.attempts}): ${reason}; trying again in ${Math.round(delay / 1000)} s`,
      );
      await sleep(delay);
    }
  }
}

export type AppImagePullsOptions = {
  runtime: ImageDoor;
  store: Store;
  contexts: RenderContexts;
  credentialsFor: (image: string) => RegistryAuth | undefined;
  onEvent: (event: ReconcilerEvent) => void;
  /** Peers and the peer cache, as the operator has them set when a pull starts. */
  sources?: () => PullSources | undefined;
  policy?: PullPolicy;
  clock?: () => number;
};

/**
 * The pull step of an app: the per-app reconcile takes it before anything is created or replaced,
 * an update's pre-flight before the old version is stopped. Progress goes to the app's active
 * operation (its log and its `pull` events).
 */
export class AppImagePulls {
  readonly #o: AppImagePullsOptions;

  constructor(options: AppImagePullsOptions) {
    this.#o = options;
  }

  /** The images `manifest` names, each once. */
  imagesOf(manifest: Manifest): string[] {
    return [
      ...new Set(podmanPlan(manifest, this.#o.contexts.of(manifest)).containers.map((c) => c.body.image)),
    ];
  }

  /** Pulls the images of `manifest` that are not on the node; an ImagePullError names the first that cannot be. */
  async pull(app: AppRow, manifest: Manifest, note: Note): Promise<void> {
    const sources = this.#o.sources?.();
    await pullMissing(this.imagesOf(manifest), registryOf, {
      ...(sources ? { sources } : {}),
      runtime: this.#o.runtime,
      credentialsFor: this.#o.credentialsFor,
      note,
      ...(this.#o.policy ? { policy: this.#o.policy } : {}),
      ...(this.#o.clock ? { clock: this.#o.clock } : {}),
      onProgress: (progress) => {
        const operation = this.#o.store.activeOperations(app.id).at(-1);
        if (operation)
          this.#o.onEvent({ type: "pull", appId: app.id, operationId: operation.id, ...progress });
      },
    });
  }
}
