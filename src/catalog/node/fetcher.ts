/**
 * How a node downloads catalog files for the TUF client: over http(s) or from a local directory
 * (`file:` URLs), never more than the byte cap the client gives for each file (a server that sends
 * endless data is cut off at the cap, and the connection closed), with a time limit, counting what
 * it transferred (for the operator and the benchmark).
 */
import { randomBytes } from "node:crypto";
import { open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Fetcher } from "tuf-js";
import { tufJs } from "./tuf.ts";

/** A file bigger than the client allows: what endless data (and a wrong length) looks like. */
export class TooLargeError extends Error {
  constructor(url: string, limit: number) {
    super(`${url} sent more than ${limit} bytes, the most the catalog allows for it (endless data)`);
    this.name = "TooLargeError";
  }
}

export type Transfer = { url: string; bytes: number; status: number };

export class CatalogFetcher implements Fetcher {
  readonly #timeoutMs: number;
  /** Every download of the current refresh (cleared by the caller). */
  transfers: Transfer[] = [];

  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const parsed = new URL(url);
    if (parsed.protocol === "file:") return this.#readFile(url, fileURLToPath(parsed), maxLength);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new Error(`${url}: only http, https and local directories can serve a catalog`);
    return this.#download(url, maxLength);
  }

  /** The TUF client hands targets to `handler` as a file, which it checks and copies. */
  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const bytes = await this.downloadBytes(url, maxLength);
    const file = join(tmpdir(), `archy-catalog-${randomBytes(8).toString("hex")}`);
    await writeFile(file, bytes, { mode: 0o600 });
    try {
      return await handler(file);
    } finally {
      await rm(file, { force: true });
    }
  }

  async #download(url: string, maxLength: number): Promise<Buffer> {
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new Error(`${url}: no complete answer within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      const response = await fetch(url, { signal: abort.signal, redirect: "error" });
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        this.transfers.push({ url, bytes: 0, status: response.status });
        // The TUF client reads 403 and 404 on the next root version as "no newer root".
        const { DownloadHTTPError } = await tufJs();
        throw new DownloadHTTPError(`${url}: HTTP ${response.status}`, response.status);
      }
      const chunks: Uint8Array[] = [];
      let received = 0;
      for await (const chunk of response.body) {
        received += chunk.length;
        if (received > maxLength) {
          abort.abort();
          this.transfers.push({ url, bytes: received, status: response.status });
          throw new TooLargeError(url, maxLength);
        }
        chunks.push(chunk);
      }
      this.transfers.push({ url, bytes: received, status: response.status });
      return Buffer.concat(chunks);
    } finally {
      clearTimeout(timer);
    }
  }

  async #readFile(url: string, path: string, maxLength: number): Promise<Buffer> {
    const handle = await open(path, "r").catch(async (error: NodeJS.ErrnoException) => {
      this.transfers.push({ url, bytes: 0, status: 404 });
      if (error.code !== "ENOENT") throw error;
      const { DownloadHTTPError } = await tufJs();
      throw new DownloadHTTPError(`${path}: no such file`, 404);
    });
    try {
      // One byte past the cap tells a file that is too big from one that fits exactly.
      const buffer = Buffer.alloc(Math.min((await handle.stat()).size, maxLength) + 1);
      let read = 0;
      while (read < buffer.length) {
        const { bytesRead } = await handle.read(buffer, read, buffer.length - read, read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      this.transfers.push({ url, bytes: read, status: 200 });
      if (read > maxLength) throw new TooLargeError(url, maxLength);
      return buffer.subarray(0, read);
    } finally {
      await handle.close();
    }
  }
}
