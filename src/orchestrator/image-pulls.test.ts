import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PeerCopy, PullSources } from "../peers/image-fetch.ts";
import type { Peer } from "../peers/peers.ts";
import { registryOf } from "../registry/reference.ts";
import { pullErrorKind } from "../runtime/libpod/images.ts";
import { PullFailure, type PullOptions, type PullProgress, type RegistryAuth } from "../runtime/runtime.ts";
import { ImagePullError, pullMissing } from "./image-pulls.ts";
import type { LayerProgress } from "./model.ts";

const MiB = 1024 * 1024;

/**
 * A runtime whose pulls fail with Podman's messages `failures` in turn (classified as PodmanRuntime
 * does), then succeed reporting `progress`; its registry lists each image at `space.imageBytes`
 * (an Error: it cannot say), its storage has `space.freeBytes` free.
 */
function door(
  present: string[],
  failures: string[],
  progress: PullProgress[] = [],
  space: { imageBytes: number | Error; freeBytes: number } = { imageBytes: 10 * MiB, freeBytes: 1024 * MiB },
) {
  const have = new Set(present);
  const calls: Array<{ image: string; auth?: RegistryAuth }> = [];
  return {
    calls,
    imagePresent: async (image: string) => have.has(image),
    imageDownloadBytes: async () => {
      if (space.imageBytes instanceof Error) throw space.imageBytes;
      return space.imageBytes;
    },
    imageStorageSpace: async () => ({ path: "/srv/podman/storage", freeBytes: space.freeBytes }),
    pullImage: async (image: string, options: PullOptions = {}) => {
      calls.push({ image, auth: options.auth });
      const failure = failures.shift();
      if (failure) throw new PullFailure(pullErrorKind(failure), failure);
      for (const p of progress) options.onProgress?.(p);
      have.add(image);
    },
  };
}

function run(images: string[], podman: ReturnType<typeof door>, auth?: RegistryAuth, sources?: PullSources) {
  const lines: string[] = [];
  const sleeps: number[] = [];
  const events: PullProgress[] = [];
  let now = 0;
  const done = pullMissing(images, registryOf, {
    ...(sources ? { sources } : {}),
    // Every reading of the clock is a second later.
    clock: () => (now += 1_000),
    runtime: podman,
    credentialsFor: () => auth,
    note: (level, message) => lines.push(`${level}: ${message}`),
    onProgress: (p) => events.push(p),
    policy: { attempts: 3, baseDelayMs: 1_000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { done, lines, sleeps, events };
}

const IMAGE = `registry.example.org/app/web:1@sha256:${"a".repeat(64)}`;

describe("pullMissing", () => {
  test("an image on the node is not pulled (one targeted check, no pull)", async () => {
    const podman = door([IMAGE], []);
    await run([IMAGE, IMAGE], podman).done;
    assert.equal(podman.calls.length, 0);
  });

  test("a registry that cannot be reached is tried again after 1 s, then 2 s, then given up, naming the image", async () => {
    const podman = door([], ["dial tcp: connection refused", "connection reset by peer", "i/o timeout"]);
    const { done, sleeps } = run([IMAGE], podman);
    await assert.rejects(done, (error: unknown) => {
      assert.ok(error instanceof ImagePullError);
      assert.equal(error.kind, "unreachable");
      assert.match(
        error.message,
        /^image registry\.example\.org\/app\/web:1@sha256:a+ could not be pulled \(3 tries\): i\/o timeout; the registry registry\.example\.org could not be reached/,
      );
      return true;
    });
    assert.deepEqual(sleeps, [1_000, 2_000]);
    assert.equal(podman.calls.length, 3);
  });

  test("a transient failure then success: pulled, with the retry said in the log", async () => {
    const podman = door([], ["connection refused"]);
    const { done, lines } = run([IMAGE], podman);
    await done;
    assert.equal(podman.calls.length, 2);
    assert.ok(lines.some((l) => l.startsWith("warn: pulling") && l.includes("trying again in 1 s")));
    assert.ok(lines.includes(`info: pulled ${IMAGE}`));
  });

  for (const [message, kind] of [
    ["reading manifest: unauthorized: authentication required", "denied"],
    ["requested access to the resource is denied", "denied"],
    ["reading manifest 1 in x/y: manifest unknown: manifest unknown", "not-found"],
    ["writing blob: happened during read: Digest did not match, expected sha256:1, got sha256:2", "corrupt"],
    [
      'writing blob: storing blob to file "/var/tmp/storage1/1": write /var/tmp/storage1/1: no space left on device',
      "no-space",
    ],
  ] as const)
    test(`'${message}' is a ${kind} failure, never retried`, async () => {
      const podman = door([], [message, message]);
      const { done, sleeps } = run([IMAGE], podman);
      await assert.rejects(done, (error: unknown) => error instanceof ImagePullError && error.kind === kind);
      assert.equal(podman.calls.length, 1);
      assert.deepEqual(sleeps, []);
    });

  test("progress: a log line per quarter of a layer's bytes with its rate and time left, every update as an event", async () => {
    const total = 4_000_000;
    const progress: PullProgress[] = [
      { layer: "aaa", status: "present" },
      { layer: "bbb", status: "waiting" },
      ...[1, 500_000, 900_000, 1_100_000, 2_100_000, 2_200_000, 3_900_000, total].map(
        (current): PullProgress => ({ layer: "bbb", status: "downloading", current, total }),
      ),
      { layer: "bbb", status: "done" },
    ];
    const { done, lines, events } = run([IMAGE], door([], [], progress));
    await done;
    assert.equal(events.length, progress.length);
    assert.deepEqual(
      lines.filter((l) => l.includes(" layer ")).map((l) => l.slice(l.indexOf(" layer ") + 1)),
      [
        "layer aaa: already on this node",
        "layer bbb: 1 B of 3.8 MiB (0%)",
        "layer bbb: 1.0 MiB of 3.8 MiB (27%) at 358 KiB/s, 8 s left",
        "layer bbb: 2.0 MiB of 3.8 MiB (52%) at 513 KiB/s, 4 s left",
        "layer bbb: 3.7 MiB of 3.8 MiB (97%) at 635 KiB/s, 1 s left",
        "layer bbb: 3.8 MiB of 3.8 MiB (100%) at 558 KiB/s, 0 s left",
      ],
    );
    const rated = events.filter((e) => (e as LayerProgress).bytesPerSecond !== undefined) as LayerProgress[];
    assert.equal(rated.length, 7, "every download report after the layer's first has a rate");
    assert.deepEqual(
      rated.map((e) => e.secondsLeft),
      // The bytes left over the rate from the layer's first report (a second a report), rounded up.
      [8, 7, 8, 4, 5, 1, 0],
    );
  });

  test("images that do not fit in Podman's storage are refused before any pull, with both figures and what to free", async () => {
    const other = `registry.example.org/app/db:1@sha256:${"b".repeat(64)}`;
    const podman = door([], [], [], { imageBytes: 40 * MiB, freeBytes: 200 * MiB });
    const { done } = run([IMAGE, other], podman);
    await assert.rejects(done, (error: unknown) => {
      assert.ok(error instanceof ImagePullError);
      assert.equal(error.kind, "no-space");
      assert.equal(
        error.message,
        "not enough free space for the images: they download 80 MiB, about 240 MiB in Podman's storage once unpacked (3× what they download), and /srv/podman/storage has 200 MiB free; free at least 40 MiB there (`podman image prune` as the daemon's user removes the images no container uses, `podman system df` shows what takes the space), then retry",
      );
      return true;
    });
    assert.equal(podman.calls.length, 0, "nothing was pulled");
  });

  test("images that fit are pulled, their size and the free space in the log; images on the node are not counted", async () => {
    const podman = door([IMAGE], [], [], { imageBytes: 40 * MiB, freeBytes: 120 * MiB });
    const other = `registry.example.org/app/db:1@sha256:${"b".repeat(64)}`;
    const { done, lines } = run([IMAGE, other], podman);
    await done;
    assert.deepEqual(
      podman.calls.map((c) => c.image),
      [other],
    );
    assert.ok(
      lines.includes("info: the image downloads 40 MiB; 120 MiB free in /srv/podman/storage"),
      lines.join("\n"),
    );
  });

  test("an image whose size its registry cannot say is pulled, the unchecked space said in the log", async () => {
    const podman = door([], [], [], {
      imageBytes: new Error("registry.example.org answered 500"),
      freeBytes: 0,
    });
    const { done, lines } = run([IMAGE], podman);
    await done;
    assert.equal(podman.calls.length, 1);
    assert.ok(
      lines.includes(
        `warn: the size of ${IMAGE} is unknown (registry.example.org answered 500): the free space is not checked for it`,
      ),
      lines.join("\n"),
    );
  });

  test("the registry's credentials go to Podman; only the user name is said", async () => {
    const podman = door([], []);
    const auth = { username: "ops", password: "a-registry-password-0123456789", serveraddress: "x" };
    const { done, lines } = run([IMAGE], podman, auth);
    await done;
    assert.deepEqual(podman.calls[0]?.auth, auth);
    assert.ok(lines.includes(`info: pulling ${IMAGE} from registry.example.org as ops`));
    assert.ok(lines.every((l) => !l.includes(auth.password)));
  });

  test("a localhost/ image that is not on the node is not pulled: built or loaded images come from no registry", async () => {
    const podman = door([], []);
    await assert.rejects(run(["localhost/archy-test/x:1"], podman).done, /never pulled: build or load it/);
    assert.equal(podman.calls.length, 0);
  });
});

describe("pullMissing with peers (docs/peers.md)", () => {
  const OTHER = `registry.example.org/app/db:2@sha256:${"b".repeat(64)}`;
  const peer = (n: number): Peer => ({ url: `https://10.0.0.${n}:7780/`, token: "t", addedAt: 0 });

  /**
   * Peers answering per `answers[url]` (the same for every image), in that order; records who was
   * asked for what. An image a peer served is in Podman's store.
   */
  function peers(answers: Record<string, PeerCopy>, podman: ReturnType<typeof door>) {
    const asked: string[] = [];
    const served = new Set<string>();
    const present = podman.imagePresent;
    podman.imagePresent = async (image) => served.has(image) || present(image);
    const sources: PullSources = {
      peers: Object.keys(answers).map((url) => ({ url, token: "t", addedAt: 0 })),
      fromPeer: async (p, image) => {
        asked.push(`${p.url} ${image}`);
        const answer = answers[p.url] as PeerCopy;
        if (answer.served) served.add(image);
        return answer;
      },
    };
    return { sources, asked };
  }

  test("a peer that lied is dropped for the rest of the step: not asked for the next image; the next peer and then the origin are", async () => {
    const podman = door([], []);
    const { sources, asked } = peers(
      {
        [peer(1).url]: { served: false, problem: "Digest did not match", lied: true },
        [peer(2).url]: { served: false, problem: "manifest unknown", lied: false },
      },
      podman,
    );
    const { done, lines } = run([IMAGE, OTHER], podman, undefined, sources);
    await done;
    assert.deepEqual(asked, [
      `${peer(1).url} ${IMAGE}`,
      `${peer(2).url} ${IMAGE}`,
      `${peer(2).url} ${OTHER}`,
    ]);
    assert.deepEqual(
      podman.calls.map((c) => c.image),
      [IMAGE, OTHER],
      "the origin served both",
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith(
          `warn: peer ${peer(1).url} dropped for the rest of this operation: what it served for ${IMAGE} is not what its digest names (Digest did not match)`,
        ),
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.includes(`info: peer ${peer(2).url} did not serve ${IMAGE}: manifest unknown`),
      lines.join("\n"),
    );
  });

  test("an image a peer served is not pulled from its registry, and the log says which peer", async () => {
    const podman = door([], []);
    const { sources, asked } = peers({ [peer(3).url]: { served: true } }, podman);
    const { done, lines } = run([IMAGE], podman, undefined, sources);
    await done;
    assert.deepEqual(asked, [`${peer(3).url} ${IMAGE}`]);
    assert.equal(podman.calls.length, 0, "Podman pulled nothing");
    assert.ok(
      lines.includes(
        `info: pulled ${IMAGE} from peer ${peer(3).url} (every blob verified against its digest)`,
      ),
      lines.join("\n"),
    );
  });

  test("an image not pinned by digest is never asked of a peer: only a digest says what its bytes must be", async () => {
    const podman = door([], []);
    const { sources, asked } = peers({ [peer(4).url]: { served: true } }, podman);
    await run(["registry.example.org/app/web:1"], podman, undefined, sources).done;
    assert.deepEqual(asked, []);
    assert.equal(podman.calls.length, 1);
  });
});
