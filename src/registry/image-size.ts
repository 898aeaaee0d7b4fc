/**
 * The size of an image as its registry lists it, read before the image is pulled so that a pull
 * that cannot fit is refused before anything is downloaded: the image's manifest (for an index, the
 * manifest of this node's platform) lists every blob with its compressed size. Read over the
 * registry's HTTP API (Podman 4.3's API has no remote inspect), with the credentials the pull gets
 * and the trust Podman has: the system's CAs plus the registry's own `certs.d/<host>/*.crt`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import type { RegistryAuth } from "../runtime/runtime.ts";
import { type ImageLocation, locateImage } from "./reference.ts";

const INDEX_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];

type Descriptor = { digest?: string; size?: number; platform?: { os?: string; architecture?: string } };
type ManifestDoc = {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
};

/** Node's names for CPU architectures, in the OCI's words. */
const OCI_ARCH: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ppc64: "ppc64le",
  s390x: "s390x",
};

/** The manifest of an index this node would run (linux on its architecture), or undefined. */
export function platformManifest(index: ManifestDoc, arch = process.arch): Descriptor | undefined {
  const wanted = OCI_ARCH[arch] ?? arch;
  return index.manifests?.find((m) => m.platform?.os === "linux" && m.platform.architecture === wanted);
}

/** An image manifest's bytes: its config and every layer, compressed as they are downloaded. */
export function manifestBytes(manifest: ManifestDoc): number {
  const blobs = [manifest.config, ...(manifest.layers ?? [])];
  if (!manifest.config || !manifest.layers) throw new Error("the manifest lists no config or layers");
  let total = 0;
  for (const blob of blobs) {
    if (typeof blob?.size !== "number" || blob.size < 0)
      throw new Error("a blob of the manifest has no size");
    total += blob.size;
  }
  return total;
}

/** `WWW-Authenticate: Bearer realm="…",service="…"` (or Basic) as a scheme and its parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const match of header.slice(space + 1).matchAll(/([a-zA-Z]+)="([^"]*)"/g))
    params[(match[1] as string).toLowerCase()] = match[2] as string;
  return { scheme, params };
}

/** The CAs Podman trusts for `host`: the system's and those of the registry's certs.d directories. */
export function trustFor(host: string, home = homedir()): string[] {
  const dirs = [
    join(home, ".config", "containers", "certs.d", host),
    join("/etc/containers/certs.d", host),
    join("/etc/docker/certs.d", host),
  ];
  const own = dirs.flatMap((dir) => {
    try {
      return readdirSync(dir)
        .filter((name) => name.endsWith(".crt"))
        .map((name) => readFileSync(join(dir, name), "utf8"));
    } catch {
      return [];
    }
  });
  return [...rootCertificates, ...own];
}

/** A manifest is small; a registry that sends more is not answered. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

function get(url: URL, headers: Record<string, string>, ca: string[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers, ca, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > MAX_MANIFEST_BYTES) req.destroy(new Error(`${url.host} sent more than a manifest`));
        else chunks.push(chunk);
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () =>
      req.destroy(new Error(`${url.host} did not answer in ${REQUEST_TIMEOUT_MS / 1000} s`)),
    );
    req.on("error", reject);
    req.end();
  });
}

const basic = (auth: RegistryAuth) =>
  `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;

/**
 * Reads manifests of one repository, answering the registry's challenge once (Basic: the
 * credentials; Bearer: a pull token from its realm, with the credentials when there are some).
 */
class ManifestReader {
  readonly #where: ImageLocation;
  readonly #auth: RegistryAuth | undefined;
  readonly #ca: string[];
  #authorization: string | undefined;

  constructor(where: ImageLocation, auth: RegistryAuth | undefined, ca: string[]) {
    this.#where = where;
    this.#auth = auth;
    this.#ca = ca;
  }

  async read(reference: string): Promise<ManifestDoc> {
    const url = new URL(`https://${this.#where.apiHost}/v2/${this.#where.repository}/manifests/${reference}`);
    const headers = () => ({
      Accept: [...INDEX_TYPES, ...MANIFEST_TYPES].join(", "),
      ...(this.#authorization ? { Authorization: this.#authorization } : {}),
    });
    let answer = await get(url, headers(), this.#ca);
    if (answer.status === 401 && !this.#authorization) {
      this.#authorization = await this.#answerChallenge(String(answer.headers["www-authenticate"] ?? ""));
      answer = await get(url, headers(), this.#ca);
    }
    if (answer.status !== 200) throw new Error(`${this.#where.registry} answered ${answer.status}`);
    return JSON.parse(answer.body) as ManifestDoc;
  }

  async #answerChallenge(header: string): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    if (scheme === "basic") {
      if (!this.#auth) throw new Error(`${this.#where.registry} wants credentials`);
      return basic(this.#auth);
    }
    if (scheme !== "bearer" || !params.realm)
      throw new Error(`${this.#where.registry} asks for ${scheme || "nothing"}`);
    const realm = new URL(params.realm);
    if (realm.protocol !== "https:") throw new Error(`${this.#where.registry}'s token service is not https`);
    if (params.service) realm.searchParams.set("service", params.service);
    realm.searchParams.set("scope", `repository:${this.#where.repository}:pull`);
    const answer = await get(
      realm,
      this.#auth ? { Authorization: basic(this.#auth) } : {},
      trustFor(realm.host),
    );
    if (answer.status !== 200) throw new Error(`${realm.host} gave no token (${answer.status})`);
    const { token, access_token } = JSON.parse(answer.body) as { token?: string; access_token?: string };
    if (!token && !access_token) throw new Error(`${realm.host} gave no token`);
    return `Bearer ${token ?? access_token}`;
  }
}

/**
 * The compressed bytes of `image` for this node (config and layers, as downloaded); rejects with
 * the reason when the registry cannot say (the pull itself then reports what is wrong).
 */
export async function imageCompressedBytes(image: string, auth: RegistryAuth | undefined): Promise<number> {
  const where = locateImage(image);
  const reader = new ManifestReader(where, auth, trustFor(where.apiHost));
  const top = await reader.read(where.reference);
  if (!top.manifests) return manifestBytes(top);
  const mine = platformManifest(top);
  if (!mine?.digest)
    throw new Error(`${image} has no image for linux/${OCI_ARCH[process.arch] ?? process.arch}`);
  return manifestBytes(await reader.read(mine.digest));
}
