/**
 * What the catalog tests share: app directories made on the fly, a publisher's catalog built with
 * the library the CLI uses, a static HTTP server on loopback (127.0.0.1 only) that can be made to
 * misbehave per path, and a node's catalog source pointed at it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { CatalogSource } from "../../src/catalog/node/source.ts";
import { addApps, initCatalog, publishCatalog, signCatalog } from "../../src/catalog/publisher.ts";

export const DAY_MS = 86_400_000;

/** A valid manifest for an app id and version (the image is never pulled by these tests). */
export function manifestText(id: string, version: string, name = `App ${id}`): string {
  return `manifest: 1
id: ${id}
version: ${version}
name: ${name}
description: A test app for catalog tests
containers:
  web:
    image: localhost/archy-test/busybox:1
    command: [sleep, "3600"]
`;
}

export type Lab = {
  dir: string;
  /** The publisher's catalog directory. */
  repo: string;
  /** Where the catalog is published (and served from). */
  out: string;
  /** Writes an app directory with a manifest (and an extra file) and returns its path. */
  app: (id: string, version: string, extra?: Record<string, string>) => string;
  /** add + sign (with every key in the catalog's key directory) + publish. */
  release: (...apps: string[]) => Promise<void>;
  /**
   * A node's source for the published catalog, over HTTP when a URL is given; `stateDir` again for
   * the same node after a restart (by default, a new node).
   */
  source: (url?: string, stateDir?: string) => CatalogSource;
  close: () => void;
};

export async function lab(init: Partial<Parameters<typeof initCatalog>[1]> = {}): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), "archy-catalog-test-"));
  const repo = join(dir, "repo");
  const out = join(dir, "out");
  await initCatalog(repo, {
    keys: { root: 1, targets: 1, snapshot: 1, timestamp: 1 },
    thresholds: { root: 1, targets: 1, snapshot: 1, timestamp: 1 },
    now: Date.now(),
    ...init,
  });
  let sources = 0;
  return {
    dir,
    repo,
    out,
    app: (id, version, extra = {}) => {
      const appDir = join(dir, "apps", `${id}-${version}`);
      mkdirSync(appDir, { recursive: true });
      writeFileSync(join(appDir, "manifest.yml"), manifestText(id, version));
      for (const [name, content] of Object.entries(extra)) {
        mkdirSync(join(appDir, name, ".."), { recursive: true });
        writeFileSync(join(appDir, name), content);
      }
      return appDir;
    },
    release: async (...apps) => {
      const now = Date.now();
      if (apps.length > 0) await addApps(repo, apps, { now });
      await signCatalog(repo, { roles: [], keyFiles: [], renew: false, now });
      await publishCatalog(repo, out, now);
    },
    source: (url = out, stateDir = join(dir, `node-${++sources}`)) =>
      new CatalogSource(
        { name: "official", url, root: join(out, "metadata", "1.root.json") },
        { stateDir, timeoutMs: 10_000 },
      ),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Overrides a served path: write whatever answer to the response (an attack, a fault). */
export type Override = (response: ServerResponse) => void;

export type StaticServer = {
  url: string;
  /** Paths requested, in order (`/metadata/timestamp.json`, …). */
  requests: string[];
  overrides: Map<string, Override>;
  close: () => Promise<void>;
};

/** Serves `root` over HTTP on 127.0.0.1 (a port of the system's choice), like any static web server. */
export async function serve(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const overrides = new Map<string, Override>();
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    requests.push(path);
    const override = overrides.get(path);
    if (override) return override(response);
    const file = normalize(join(root, path));
    if (!file.startsWith(`${root}/`)) {
      response.writeHead(403).end();
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    overrides,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What `endless` offers a client that keeps reading (bounded, so the test always ends). */
export const ENDLESS_BYTES = 256 * 1024 * 1024;

/**
 * An answer with bytes for as long as the client reads; `written()` tells how many the server
 * handed to the connection before the client hung up (socket buffers included: a few MiB at most
 * for a client that stops at once).
 */
export function endless(): Override & { written: () => number } {
  let written = 0;
  const override = (response: ServerResponse) => {
    response.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let closed = false;
    const push = () => {
      while (!closed && written < ENDLESS_BYTES) {
        written += chunk.length;
        if (!response.write(chunk)) return void response.once("drain", push);
      }
      response.end();
    };
    response.on("close", () => {
      closed = true;
    });
    push();
  };
  return Object.assign(override, { written: () => written });
}

/** The ids and versions a node serves. */
export function served(source: CatalogSource): string[] {
  return (source.listing?.apps ?? []).map((a) => `${a.id}@${a.version}`);
}
