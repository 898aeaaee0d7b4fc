/**
 * The two streamed routes of `archy image export` / `import` (registry/app-archive.ts). JSON-RPC
 * carries JSON of at most 1 MiB; an app's images are hundreds of MiB, so they travel as raw HTTP
 * bodies, authenticated like the CLI's calls (its bearer token; no browser session: no page needs
 * them, and a bearer header is no CSRF target):
 *
 *   GET  /images/v1/export?app=ID      200 application/x-tar: the archive, streamed
 *   POST /images/v1/import              body application/x-tar; 200 {id, version, images, loaded, dir}
 *
 * A refusal is a JSON `{error}` with a 4xx status; an export whose images are all copied is
 * streamed, and a failure after its first byte cuts the connection (the CLI says the archive is
 * incomplete). The daemon does the work and the verification, not the CLI: it has the registry
 * credentials and Podman's store, and the archive is checked by the one who loads it, at use.
 */
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CatalogError } from "../catalog/errors.ts";
import { ImageArchiveError } from "../registry/image-archive.ts";
import type { RegistryAuth } from "../runtime/runtime.ts";

export const ARCHIVE_TYPE = "application/x-tar";

export type ImageArchiveRoutesOptions = {
  /** Whether the request carries the CLI's token. */
  authorized: (request: FastifyRequest) => boolean;
  /** The package directory of an installed app, or undefined when it is not installed (or has none). */
  packageDirOf: (appId: string) => string | undefined;
  credentialsFor: (image: string) => RegistryAuth | undefined;
  imagePresent: (image: string) => Promise<boolean>;
  /** Whether the daemon is connected to Podman (an import loads images into its store). */
  podmanReady: () => boolean;
  /** Where imported apps go (the daemon's apps directory), or undefined when it has none. */
  appsDir: string | undefined;
  /** Scratch space for archives being read and written (on the data disk, never /tmp). */
  workDir: string;
};

function refuse(reply: FastifyReply, status: number, error: string) {
  return reply.code(status).header("cache-control", "no-store").send({ error });
}

/** A refusal of the operator's request (its message says what to do), or undefined for a fault of ours. */
function refusal(error: unknown): string | undefined {
  if (error instanceof ImageArchiveError || error instanceof CatalogError) return error.message;
  return undefined;
}

export function registerImageArchiveRoutes(
  server: FastifyInstance,
  options: ImageArchiveRoutesOptions,
): void {
  // What an export or import needs (skopeo's driver, the bundle format, the publisher's reading of
  // an app directory with the TUF models) is loaded at the first one: an idle daemon never needs it.
  const appArchives = () => import("../registry/app-archive.ts");
  // The body stays a stream for the handler: nothing is read before the caller is authorized.
  server.addContentTypeParser(ARCHIVE_TYPE, (_request, payload, done) => done(null, payload));

  server.get("/images/v1/export", async (request, reply) => {
    if (!options.authorized(request)) return refuse(reply, 401, "the CLI token is missing or wrong");
    const appId = (request.query as Record<string, unknown>).app;
    if (typeof appId !== "string" || appId === "") return refuse(reply, 400, "say which app: ?app=ID");
    const dir = options.packageDirOf(appId);
    if (!dir) return refuse(reply, 404, `${appId} is not installed (or its package is not on this node)`);
    let streaming = false;
    try {
      const { exportAppArchive } = await appArchives();
      await exportAppArchive(
        dir,
        () => {
          streaming = true;
          reply.hijack();
          reply.raw.writeHead(200, {
            "content-type": ARCHIVE_TYPE,
            "content-disposition": `attachment; filename="${appId}.tar"`,
            "cache-control": "no-store",
          });
          return reply.raw;
        },
        { credentialsFor: options.credentialsFor, workDir: options.workDir },
      );
      reply.raw.end();
    } catch (error) {
      if (streaming) {
        request.log.error({ err: error }, `the export of ${appId} failed after its first byte`);
        reply.raw.destroy();
        return;
      }
      const why = refusal(error);
      if (why) return refuse(reply, 422, why);
      throw error;
    }
  });

  server.post("/images/v1/import", async (request, reply) => {
    if (!options.authorized(request)) return refuse(reply, 401, "the CLI token is missing or wrong");
    if (request.headers["content-type"] !== ARCHIVE_TYPE)
      return refuse(reply, 415, `send the archive as ${ARCHIVE_TYPE}`);
    const { appsDir } = options;
    if (!appsDir)
      return refuse(
        reply,
        409,
        "this daemon has no apps directory to import apps into: start it with --apps-dir DIR (or ARCHY_APPS_DIR)",
      );
    if (!options.podmanReady())
      return refuse(
        reply,
        503,
        "the daemon is not connected to Podman yet: retry once archy status shows it is",
      );
    await mkdir(options.workDir, { recursive: true });
    const work = await mkdtemp(join(options.workDir, "upload-"));
    try {
      const file = join(work, "archive.tar");
      await pipeline(request.body as Readable, createWriteStream(file, { mode: 0o600 }));
      const { importAppArchive } = await appArchives();
      const imported = await importAppArchive(file, {
        workDir: options.workDir,
        placeOf: (id) => join(appsDir, id),
        imagePresent: options.imagePresent,
      });
      return reply.header("cache-control", "no-store").send(imported);
    } catch (error) {
      const why = refusal(error);
      if (why) return refuse(reply, 422, why.replace(join(work, "archive.tar"), "the archive"));
      if ((error as NodeJS.ErrnoException).code === "ENOSPC")
        return refuse(
          reply,
          507,
          `the daemon's data disk is full (${options.workDir}): an import needs about twice the archive's size there while it is checked; free space, then retry`,
        );
      throw error;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}
