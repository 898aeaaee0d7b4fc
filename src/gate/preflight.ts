/**
 * What the gate checks before it installs anything: that every image the gated apps name is in the
 * image store of the user whose Podman runs them. The daemon never pulls an image when it installs
 * an app (it refuses to create a container whose image is not on the node), so a missing image
 * would fail every step of the app, one time limit after another; the gate refuses at once instead,
 * naming the app, the image, the store and how to fill it.
 */
import { TEST_IMAGE } from "../host/layout.ts";
import type { Manifest } from "../manifest/schema.ts";

/** One container's image, by the app id the operator named. */
export type ImageUse = { app: string; container: string; image: string };

/** Every container's image of the apps, in app and container order. */
export function imageUses(manifests: ReadonlyMap<string, Manifest>): ImageUse[] {
  const uses: ImageUse[] = [];
  for (const [app, manifest] of manifests)
    for (const [container, spec] of Object.entries(manifest.containers))
      uses.push({ app, container, image: spec.image });
  return uses;
}

/**
 * The uses whose image is not in the store, each image asked about once. A check that fails (a
 * Podman that does not answer in time) counts as present: the steps then say what happened.
 */
export async function missingImages(
  uses: readonly ImageUse[],
  exists: (image: string) => Promise<boolean>,
): Promise<ImageUse[]> {
  const present = new Map<string, boolean>();
  for (const image of new Set(uses.map((u) => u.image)))
    present.set(image, await exists(image).catch(() => true));
  return uses.filter((u) => present.get(u.image) === false);
}

/** Whose store, and how a command is run as its owner, for the message. */
export type ImageStore = {
  /** The user whose store it is: a name (`archy-test`), or a description of the daemon's user. */
  user: string;
  /** The store, in words (default: `<user>'s Podman image store`). */
  store?: string;
  /** The command prefix that runs a program as that user from here, when the gate runs as root. */
  runAs?: string;
};

/** The refusal: which images, used by which apps, missing from whose store, and how to fix it. */
export function missingImagesMessage(missing: readonly ImageUse[], store: ImageStore): string {
  const byImage = new Map<string, string[]>();
  for (const use of missing)
    byImage.set(use.image, [...(byImage.get(use.image) ?? []), `${use.app} (container ${use.container})`]);
  const images = [...byImage.keys()];
  const apps = [...new Set(missing.map((u) => u.app))];
  const lines = [
    `refusing to gate: ${images.length === 1 ? "an image is" : `${images.length} images are`} not in ${store.store ?? `${store.user}'s Podman image store`}, and the daemon never pulls an image when it installs an app, so every step of ${apps.length === 1 ? "that app" : "those apps"} would fail:`,
    ...images.map((image) => `  ${image}: used by ${(byImage.get(image) as string[]).join(", ")}`),
    `Put ${images.length === 1 ? "it" : "each"} in that store first, as ${store.user}: \`podman load -i IMAGE.tar\` (an archive), \`podman build -t IMAGE DIR\` or \`podman pull IMAGE\` (from a registry); \`podman images\` lists what is there.`,
  ];
  if (store.runAs)
    lines.push(
      `From here: \`${store.runAs} podman load -i IMAGE.tar\` (the archive readable by ${store.user}).`,
    );
  if (images.includes(TEST_IMAGE))
    lines.push(
      `${TEST_IMAGE} is the test image: \`scripts/build-test-images${store.runAs ? ` --user ${store.user}` : ""}\` builds it.`,
    );
  lines.push(`Or leave ${apps.join(", ")} out with --apps. Nothing was installed.`);
  return lines.join("\n");
}
