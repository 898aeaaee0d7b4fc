/**
 * `archy dev relay`: a real NIP-01 relay (@nostr-relay/core, its validator and its SQLite event
 * repository) over WebSocket, with a bundle mirror on the same port (`GET`/`PUT /bundles/NAME`),
 * for a developer's local loop and the tests. The event repository is the library's; it runs on
 * node:sqlite through the small adapter below instead of the native better-sqlite3 it is written
 * for (same statements: prepare, run, all, iterate, exec, transaction).
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import common from "@nostr-relay/common";
import core from "@nostr-relay/core";
import repositories from "@nostr-relay/event-repository-sqlite";
import validators from "@nostr-relay/validator";
import { WebSocketServer } from "ws";
import { MAX_BUNDLE_BYTES } from "./bundle.ts";

type Params = SQLInputValue[];

/** node:sqlite as the part of better-sqlite3's interface Kysely and the repository use. */
function betterSqliteShape(db: DatabaseSync) {
  return {
    prepare(sql: string) {
      const statement = db.prepare(sql);
      return {
        reader: statement.columns().length > 0,
        all: (params: Params = []) => statement.all(...params),
        get: (...params: Params) => statement.get(...params),
        run: (params: Params = []) => statement.run(...params),
        iterate: (params: Params = []) => statement.iterate(...params),
      };
    },
    exec: (sql: string) => db.exec(sql),
    pragma: (text: string) => db.exec(`PRAGMA ${text}`),
    transaction: (work: () => void) => (): void => {
      db.exec("BEGIN");
      try {
        work();
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
    close: () => db.close(),
  };
}

export type DevRelay = { url: string; bundlesUrl: string; server: Server; close: () => Promise<void> };

export type DevRelayOptions = {
  host?: string;
  port?: number;
  /** The relay's database file (default: in memory). */
  database?: string;
  /** Where the bundle mirror keeps bundles (default: none: no mirror). */
  bundlesDir?: string;
  /** How many events one filter may return (the repository's default limit is a tenth of it). */
  maxLimit?: number;
};

const BUNDLE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

async function serveBundle(dir: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const name = decodeURIComponent((request.url ?? "").slice("/bundles/".length));
  if (!BUNDLE_NAME.test(name) || name.startsWith(".")) {
    response.writeHead(400).end("bad bundle name\n");
    return;
  }
  const file = join(dir, name);
  if (request.method === "GET") {
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes) response.writeHead(404).end("no such bundle\n");
    else response.writeHead(200, { "content-type": "application/octet-stream" }).end(bytes);
    return;
  }
  if (request.method === "PUT") {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > MAX_BUNDLE_BYTES) {
        response.writeHead(413).end(`a bundle is at most ${MAX_BUNDLE_BYTES} bytes\n`);
        request.destroy();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    await mkdir(dir, { recursive: true });
    await writeFile(`${file}.part`, Buffer.concat(chunks));
    await rename(`${file}.part`, file);
    response.writeHead(201).end("stored\n");
    return;
  }
  response.writeHead(405).end("GET or PUT\n");
}

export async function startDevRelay(options: DevRelayOptions = {}): Promise<DevRelay> {
  const maxLimit = options.maxLimit ?? 10_000;
  const db = new DatabaseSync(options.database ?? ":memory:");
  const repository = new repositories.EventRepositorySqlite(
    betterSqliteShape(db) as unknown as ConstructorParameters<typeof repositories.EventRepositorySqlite>[0],
    { defaultLimit: Math.ceil(maxLimit / 10) },
  );
  await repository.init();
  // NIP-09: relays SHOULD keep serving deletion requests, so that clients which saw the deleted
  // event learn of its deletion. The library deletes what is asked and drops the request; this
  // relay keeps it too.
  const deleteAsked = repository.deleteByDeletionRequest.bind(repository);
  repository.deleteByDeletionRequest = async (event) => {
    await deleteAsked(event);
    await repository.upsert(event);
  };
  const relay = new core.NostrRelay(repository, {
    logLevel: common.LogLevel.ERROR,
    maxSubscriptionsPerClient: 50,
    // Every query sees what was published just before it (a developer publishes, then looks).
    filterResultCacheTtl: 0,
  });
  const validator = new validators.Validator({ maxFilterAuthorsLength: 1000, maxTagValueLength: 4096 });
  const server = createServer((request, response) => {
    if (options.bundlesDir && request.url?.startsWith("/bundles/")) {
      serveBundle(options.bundlesDir, request, response).catch(() => response.writeHead(500).end());
      return;
    }
    response.writeHead(200, { "content-type": "text/plain" }).end("a Nostr relay: connect over WebSocket\n");
  });
  const sockets = new WebSocketServer({ server, maxPayload: 1024 * 1024 });
  sockets.on("connection", (socket) => {
    relay.handleConnection(socket);
    socket.on("message", async (data) => {
      try {
        const message = await validator.validateIncomingMessage(data);
        await relay.handleMessage(socket, message);
      } catch (error) {
        socket.send(JSON.stringify(common.createOutgoingNoticeMessage((error as Error).message)));
      }
    });
    socket.on("close", () => relay.handleDisconnect(socket));
    socket.on("error", () => socket.terminate());
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve),
  );
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `ws://${host}:${address.port}`,
    bundlesUrl: `http://${host}:${address.port}/bundles/`,
    server,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await repository.destroy();
    },
  };
}
