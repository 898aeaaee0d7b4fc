/**
 * The web UI's files, served at `/` of the daemon's listener from its built assets (`web/dist`, made
 * by `scripts/build-web`): read once at start into memory, gzipped once, and served only by exact
 * name from that set (a request's path never reaches the file system). Every answer carries a strict
 * Content-Security-Policy: scripts, styles, images and connections from this origin only, nothing
 * inline, no framing.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyReply, FastifyRequest } from "fastify";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers of every page and asset the UI is made of. */
export const UI_HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), usb=(), serial=()",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
};

type Asset = { body: Buffer; gzipped: Buffer | undefined; type: string; immutable: boolean };

/** Every file under `root` (the build's bookkeeping files excepted), by its URL path. */
export function loadAssets(root: string): Map<string, Asset> | undefined {
  try {
    if (!statSync(join(root, "index.html")).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const assets = new Map<string, Asset>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !entry.name.startsWith(".")) {
        const type = TYPES[extname(entry.name)];
        if (!type) continue;
        const body = readFileSync(path);
        const compressible = !type.startsWith("image/png") && !type.startsWith("font/");
        const gzipped = compressible && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
        const url = `/${relative(root, path).split("\\").join("/")}`;
        assets.set(url, { body, gzipped, type, immutable: url.startsWith("/assets/") });
      }
    }
  };
  walk(root);
  return assets;
}

/** Client-side routes of the UI: a reload on any of them gets the page. */
const PAGE = /^\/(?:|login|setup|store|settings|apps|backups)(?:\/[^.]*)?$/;

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Archipelago</title></head>
<body><h1>The web UI is not built</h1><p>Run <code>scripts/build-web</code> in the checkout (<code>npm run demo</code>
and <code>npm test</code> do it), then reload. The API is served at <code>/rpc/v1</code>.</p></body></html>`;

/** The handler of `GET /*`: the UI's files, and its page for every route of the UI. */
export function webUiHandler(root: string): (request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const assets = loadAssets(root);
  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    reply.headers(UI_HEADERS);
    reply.header("content-type", asset.type);
    reply.header("cache-control", asset.immutable ? "public, max-age=31536000, immutable" : "no-cache");
    reply.header("vary", "accept-encoding");
    const accepts = String(request.headers["accept-encoding"] ?? "");
    if (asset.gzipped && /\bgzip\b/.test(accepts)) {
      reply.header("content-encoding", "gzip");
      return reply.send(asset.gzipped);
    }
    return reply.send(asset.body);
  };
  return (request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const asset = assets?.get(path);
    if (asset) return send(request, reply, asset);
    if (PAGE.test(path)) {
      const page = assets?.get("/index.html");
      if (page) return send(request, reply, page);
      reply.headers(UI_HEADERS);
      return reply.code(503).type("text/html; charset=utf-8").send(NOT_BUILT);
    }
    reply.headers(UI_HEADERS);
    return reply.code(404).type("text/plain; charset=utf-8").send("not found\n");
  };
}
