/** Images through the libpod API: bounded existence checks, pulls with progress, local images. */
import { createInterface } from "node:readline";
import { isPodmanError, PodmanError } from "./errors.ts";
import type { LibpodTransport } from "./transport.ts";

export type ImageSummary = {
  Id: string;
  RepoTags: string[] | null;
  Digest?: string;
  Size: number;
  Created: number;
};
export type PullProgress = {
  stream?: string;
  status?: string;
  id?: string;
  images?: string[];
  error?: string;
};

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
   * Pulls an image, reporting each progress line; resolves with the image id. Podman streams JSON
   * lines and reports failures as an `error` line with status 200, which becomes a PodmanError here.
   */
  async pull(
    reference: string,
    onProgress: (progress: PullProgress) => void = () => {},
    signal?: AbortSignal,
  ): Promise<string> {
    const stream = await this.#http.stream({
      method: "POST",
      path: "/images/pull",
      query: { reference, policy: "always" },
      operation: "image.pull",
      signal,
    });
    let id: string | undefined;
    for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line.trim() === "") continue;
      const progress = JSON.parse(line) as PullProgress;
      if (progress.error)
        throw new PodmanError(
          /not found|manifest unknown/i.test(progress.error) ? "not-found" : "server",
          "image.pull",
          progress.error,
        );
      if (progress.id && progress.images) id = progress.id;
      onProgress(progress);
    }
    if (!id)
      throw new PodmanError("server", "image.pull", `the pull of ${reference} ended without an image id`);
    return id;
  }
}
