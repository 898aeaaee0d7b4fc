/** Images through the libpod API: bounded existence checks, pulls with progress, local images. */
import { createInterface } from "node:readline";
import type { PullFailureKind, PullOptions, PullProgress } from "../runtime.ts";
import { isPodmanError, PodmanError } from "./errors.ts";
import type { LibpodTransport } from "./transport.ts";

export type ImageSummary = {
  Id: string;
  RepoTags: string[] | null;
  Digest?: string;
  Size: number;
  Created: number;
};
/** Docker's JSON progress line, as Podman's compatible pull writes it. */
type CompatLine = {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
};

const STATUSES: Record<string, PullProgress["status"]> = {
  "Pulling fs layer": "waiting",
  Downloading: "downloading",
  "Already exists": "present",
  "Download complete": "done",
};

/**
 * What kind of failure a pull's error message is (Podman passes the registry's and the image
 * library's text on): the caller decides on these, retrying only what may pass.
 */
export function pullErrorKind(message: string): PullFailureKind {
  // First: the words of a full disk can name a blob's digest too.
  if (/no space left on device|disk quota exceeded/i.test(message)) return "no-space";
  if (/unauthori[sz]ed|authentication required|denied|forbidden|\b40[13]\b/i.test(message)) return "denied";
  if (/manifest unknown|name unknown|not found|\b404\b/i.test(message)) return "not-found";
  if (/digest|checksum|verif|does not match|invalid .*blob/i.test(message)) return "corrupt";
  return "unreachable";
}

/** Image checks must never stall the platform on a slow image store (a field failure). */
const IMAGE_CHECK_TIMEOUT_MS = 10_000;

export class Images {
  #http: LibpodTransport;
  constructor(http: LibpodTransport) {
    this.#http = http;
  }

  /** Whether the image is present locally, by a targeted inspect bounded in time. */
  async exists(reference: string, timeoutMs = IMAGE_CHECK_TIMEOUT_MS): Promise<boolean> {
    try {
      await this.inspect(reference, timeoutMs);
      return true;
    } catch (error) {
      if (isPodmanError(error, "not-found")) return false;
      throw error;
    }
  }

  async inspect(
    reference: string,
    timeoutMs = IMAGE_CHECK_TIMEOUT_MS,
  ): Promise<{ Id: string; Digest: string; RepoTags: string[] | null }> {
    const { body } = await this.#http.request<{ Id: string; Digest: string; RepoTags: string[] | null }>({
      method: "GET",
      path: `/images/${encodeURIComponent(reference)}/json`,
      timeoutMs,
      operation: "image.inspect",
    });
    return body;
  }

  async list(): Promise<ImageSummary[]> {
    const { body } = await this.#http.request<ImageSummary[] | null>({
      method: "GET",
      path: "/images/json",
      operation: "image.list",
    });
    return body ?? [];
  }

  /**
   * Pulls an image (a digest in the reference is verified by Podman against what it receives),
   * reporting each blob's progress. Through Podman's Docker-compatible pull: the libpod one (4.3)
   * says which blob it copies but not how far it is. Podman reports a failure as an `error` line
   * after a 200, which becomes a PodmanError here whose message is Podman's (kind: `pullErrorKind`).
   */
  async pull(reference: string, options: PullOptions = {}): Promise<void> {
    const stream = await this.#http.stream({
      method: "POST",
      path: "/images/create",
      compat: true,
      query: { fromImage: reference },
      // Go's URL-safe base64 with padding, which Podman decodes the header with.
      headers: options.auth
        ? {
            "X-Registry-Auth": Buffer.from(JSON.stringify(options.auth))
              .toString("base64")
              .replaceAll("+", "-")
              .replaceAll("/", "_"),
          }
        : undefined,
      operation: "image.pull",
      signal: options.signal,
    });
    for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line.trim() === "") continue;
      const parsed = JSON.parse(line) as CompatLine;
      if (parsed.error) {
        const kind = pullErrorKind(parsed.error);
        throw new PodmanError(kind === "not-found" ? "not-found" : "server", "image.pull", parsed.error);
      }
      const status = STATUSES[parsed.status ?? ""];
      if (!status || !parsed.id) continue;
      const { current, total } = parsed.progressDetail ?? {};
      options.onProgress?.({
        layer: parsed.id,
        status,
        ...(typeof current === "number" ? { current } : {}),
        ...(typeof total === "number" && total > 0 ? { total } : {}),
      });
    }
  }
}
