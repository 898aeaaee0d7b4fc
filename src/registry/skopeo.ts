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
      const words = (stderr || error.message).trim().replace(/^time="[^"]*" level=\w+ msg="(.*)"$/s, "$1");
      reject(new SkopeoError(words));
    });
  });
}

/**
 * Copies `image` (pinned by digest) from its registry into the OCI layout `layout` under the
 * reference name `name`. Credentials go through a temporary auth file readable by this user only,
 * never on a command line (`ps` shows those).
 */
export async function copyToLayout(
  image: string,
  layout: string,
  name: string,
  auth?: RegistryAuth,
): Promise<void> {
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
      // An image index pinned by its digest is kept whole: every platform's image, the index's
      // bytes as they are (with this platform's only, skopeo writes that platform's manifest and
      // the index's digest is lost).
      "--multi-arch",
      "all",
      ...authArgs,
      `docker://${digestReference(image)}`,
      `oci:${layout}:${name}`,
    ]);
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
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
    `oci:${layout}:${name}`,
    `containers-storage:${digestReference(image)}`,
  ]);
}
