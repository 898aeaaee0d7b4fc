/**
 * Apps' icons, served by the daemon on its own origin for the web UI:
 *
 *   GET /icons/v1/<id>?source=<source>   200 the icon's bytes; 304 when the ETag matches
 *
 * Only a file that came with the app's package is served: its local apps directory, the node's
 * verified copy of a signed catalog's files, or a marketplace app's verified bundle unpacked (the
 * package the daemon installs from: `packageOf`). The file is read under the package's directory
 * with every path component canonicalised (readAppTree: no link leads outside it), a catalog's or
 * the marketplace's copy checked against what was signed at this very read (`verifyCopy`), bounded
 * in size, and served only when its bytes are a PNG, JPEG, WebP or SVG image (sniffed, never taken
 * from its name). An SVG can hold script: every icon is served with a CSP that forbids everything
 * (`sandbox` included) and `nosniff`, and the UI shows icons only through `<img>`, where an SVG's
 * scripts never run (docs/architecture.md, "App icons").
 *
 * An icon that is an https URL is never fetched by the daemon: fetching a URL a manifest names
 * would let any app make the node send requests where it says (SSRF, a probe of the node's network),
 * tell that server when the operator looks (privacy), and fail on a node without internet. The UI
 * shows the app's initials instead.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppFileError, type AppTree, readAppTree } from "../manifest/app-files.ts";
import { ICON_MAX_BYTES, type IconType, iconFile, iconType } from "../manifest/icon.ts";
import type { Manifest } from "../manifest/schema.ts";
import { AppId } from "./views.ts";

/** The headers of every answer of the icon route: nothing in it may run, load or be framed. */
export const ICON_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "same-origin",
  "referrer-policy": "no-referrer",
};

/** Where the UI finds an app's icon, or null when it has no file to serve (the UI shows initials). Pure. */
export function iconUrl(
  id: string,
  source: string,
  manifest: Pick<Manifest, "icon"> | undefined,
): string | null {
  if (!manifest || iconFile(manifest) === undefined) return null;
  return `/icons/v1/${encodeURIComponent(id)}?source=${encodeURIComponent(source)}`;
}

/** The package an icon is read from: its manifest, its directory and the check of what was signed. */
export type IconPackage = {
  manifest: Manifest;
  dir: string;
  verifyCopy?: ((from: string, tree: AppTree) => string | undefined) | undefined;
};

export type IconRead =
  | { ok: true; type: IconType; bytes: Buffer; etag: string }
  | { ok: false; status: number; reason: string };

/** An app's icon read from its package and checked: its bytes and type, or why it is refused. */
export async function readIcon(id: string, pkg: IconPackage): Promise<IconRead> {
  const file = iconFile(pkg.manifest);
  if (file === undefined)
    return {
      ok: false,
      status: 404,
      reason: pkg.manifest.icon
        ? `${id}'s icon is a URL (${pkg.manifest.icon}): the daemon never fetches one; ship the icon in the app's directory instead`
        : `${id} has no icon`,
    };
  let tree: AppTree;
  try {
    tree = await readAppTree(pkg.dir, file, {
      limits: { bytes: ICON_MAX_BYTES, entries: 1 },
      reading: "serve as an icon",
    });
  } catch (error) {
    if (!(error instanceof AppFileError)) throw error;
    return {
      ok: false,
      status: error.tooLarge ? 413 : 404,
      reason: `${id}'s icon ${file}: ${error.message}${error.tooLarge ? "; make the icon smaller (a 256 px PNG or WebP, or an SVG, is plenty)" : ""}`,
    };
  }
  const entry = tree.entries[0];
  if (entry?.type !== "file" || !entry.data)
    return { ok: false, status: 404, reason: `${id}'s icon ${file} is not a file` };
  const unsigned = pkg.verifyCopy?.(file, tree);
  if (unsigned) return { ok: false, status: 409, reason: `${id}'s icon: ${unsigned}` };
  const type = iconType(entry.data);
  if (!type)
    return {
      ok: false,
      status: 415,
      reason: `${id}'s icon ${file} is not a PNG, JPEG, WebP or SVG image: refused (the daemon serves only those, by their content)`,
    };
  const etag = `"${createHash("sha256").update(entry.data).digest("base64url")}"`;
  return { ok: true, type, bytes: entry.data, etag };
}

export type IconRoutesOptions = {
  /** Whether the request carries an operator's session (or the CLI's token). */
  authorized: (request: FastifyRequest) => boolean;
  /** The package of app `id` from `source`: installed from it, or offered by it; undefined: neither. */
  packageOf: (id: string, source: string) => Promise<IconPackage | undefined>;
};

function refuse(reply: FastifyReply, status: number, reason: string) {
  return reply
    .code(status)
    .headers(ICON_HEADERS)
    .header("cache-control", "no-store")
    .type("text/plain; charset=utf-8")
    .send(`${reason}\n`);
}

export function registerIconRoutes(server: FastifyInstance, options: IconRoutesOptions): void {
  server.get("/icons/v1/:id", async (request, reply) => {
    if (!options.authorized(request)) return refuse(reply, 401, "log in first");
    const id = AppId.safeParse((request.params as Record<string, unknown>).id);
    const source = (request.query as Record<string, unknown>).source;
    if (!id.success) return refuse(reply, 400, "id: an app id of 1 to 100 characters");
    if (typeof source !== "string" || source === "" || source.length > 700)
      return refuse(
        reply,
        400,
        "source: say which source's app: ?source=local:… or catalog:…, as the API names it",
      );
    const pkg = await options.packageOf(id.data, source);
    if (!pkg)
      return refuse(reply, 404, `${source} offers no app ${id.data}, and none of that source is installed`);
    const icon = await readIcon(id.data, pkg);
    if (!icon.ok) {
      request.log.warn(`icon refused: ${icon.reason}`);
      return refuse(reply, icon.status, icon.reason);
    }
    reply.headers(ICON_HEADERS).header("etag", icon.etag).header("cache-control", "private, no-cache");
    if (request.headers["if-none-match"] === icon.etag) return reply.code(304).send();
    return reply.type(icon.type).send(icon.bytes);
  });
}
