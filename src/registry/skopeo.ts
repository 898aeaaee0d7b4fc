/**
 * Copies of images by digest between a registry, an OCI layout directory and Podman's store, by
 * `skopeo` (Debian's, installed by `archy doctor --fix`) run as the daemon's user, who is Podman's
 * user: the same store, the same `certs.d` trust. Every copy keeps the image's bytes as they are
 * (`--preserve-digests`: a Docker-format manifest is stored as it is instead of converted, which
 * would change its digest), and skopeo checks every blob against its digest as it copies.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegistryAuth } from "../runtime/runtime.ts";
import { locateImage } from "./reference.ts";

export class SkopeoError extends Error {
  override name = "SkopeoError";
}

/** `host/repository@sha256:…`: the form skopeo 1.9 takes (it refuses a tag beside a digest). */
export function digestReference(image: string): string {
  const { registry, repository, reference } = locateImage(image);
  if (!reference.startsWith("sha256:")) throw new SkopeoError(`${image} is not pinned by digest`);
  return `${registry}/${repository}@${reference}`;
}

function skopeo(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("skopeo", args, { timeout: 60 * 60_000, maxBuffer: 4 * 1024 * 1024 }, (error, _out, stderr) => {
      if (!error) return resolve();
      const words = (stderr || error.message)
        .trim()
        .replace(/^time="[^"]*" level=\w+ msg="(.*)"$/s, (_, msg: string) => msg.replace(/\\"/g, '"'));
      reject(new SkopeoError(words));
    });
  });
}

/**
 * Where skopeo reads an image from when not from the registry its reference names: a peer node
 * serving it by digest (src/peers/image-serve.ts). `tlsVerify: false` only for a peer the operator
 * named by http:// (the bytes are verified by digest whatever the transport).
 */
export type ImageSource = { host?: string; auth?: RegistryAuth; tlsVerify?: boolean };

/** The image `image` pins, at `source`'s host when it names one. */
function sourceReference(image: string, source: ImageSource): string {
  if (!source.host) return `docker://${digestReference(image)}`;
  const { repository, reference } = locateImage(image);
  if (!reference.startsWith("sha256:")) throw new SkopeoError(`${image} is not pinned by digest`);
  return `docker://${source.host}/${repository}@${reference}`;
}

/** The image named `name` in the OCI layout `layout`. */
export const layoutReference = (layout: string, name: string): string => `oci:${layout}:${name}`;

/** `image`'s `repository@digest` in Podman's store (no tag of the store is touched). */
export const storeReference = (image: string): string => `containers-storage:${digestReference(image)}`;

/**
 * Copies `image` (pinned by digest) from its registry, or from `source`, to `destination` (a
 * layout's or the store's reference). Credentials go through a temporary auth file readable by
 * this user only, never on a command line (`ps` shows those).
 */
export async function copyFromRegistry(
  image: string,
  destination: string,
  source: ImageSource = {},
): Promise<void> {
  const { auth } = source;
  const dir = auth ? await mkdtemp(join(tmpdir(), "archy-auth-")) : undefined;
  try {
    const authArgs: string[] = [];
    if (dir && auth) {
      const file = join(dir, "auth.json");
      const token = Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
      await writeFile(file, JSON.stringify({ auths: { [auth.serveraddress]: { auth: token } } }), {
        mode: 0o600,
      });
      authArgs.push("--src-authfile", file);
    }
    await skopeo([
      "copy",
      "--quiet",
      "--preserve-digests",
      // Into a layout, an image index pinned by its digest is kept whole: every platform's image,
      // the index's bytes as they are (with this platform's only, skopeo writes that platform's
      // manifest and the index's digest is lost). Podman's store takes this platform's.
      ...(destination.startsWith("oci:") ? ["--multi-arch", "all"] : []),
      ...(source.tlsVerify === false ? ["--src-tls-verify=false"] : []),
      ...authArgs,
      sourceReference(image, source),
      destination,
    ]);
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** Copies `image` (pinned by digest) from its registry into the OCI layout `layout` under the reference name `name`. */
export function copyToLayout(
  image: string,
  layout: string,
  name: string,
  auth?: RegistryAuth,
): Promise<void> {
  return copyFromRegistry(image, layoutReference(layout, name), auth ? { auth } : {});
}

/**
 * Copies the image named `name` in the OCI layout `layout` into Podman's store as `image`'s
 * `repository@digest`: skopeo refuses a manifest that does not match that digest ("would not match
 * destination reference") and no tag of the store is touched.
 */
export async function copyToStore(layout: string, name: string, image: string): Promise<void> {
  await skopeo([
    "copy",
    "--quiet",
    "--preserve-digests",
    layoutReference(layout, name),
    storeReference(image),
  ]);
}

/**
 * Whether skopeo's failure says the bytes it was sent are not the ones their digest names (a blob,
 * or the manifest against the pinned digest): the source lied, rather than lacked the image.
 */
export function isDigestMismatch(message: string): boolean {
  // A blob: "Digest did not match, expected sha256:…, got sha256:…"; the manifest fetched by the
  // pinned digest: "Manifest does not match provided manifest digest sha256:…".
  return /digest did not match|manifest does not match provided manifest digest/i.test(message);
}
