/**
 * Shared by the marketplace tests: developer keys, app directories, publishing to a real relay
 * (`archy dev relay`'s, on loopback), signed events of any kind, and a hostile relay for fault
 * injection (it answers every query with what the test scripts: forged events, malformed JSON,
 * floods), and publishers' NIP-05 domains served on loopback under a test certificate authority.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type EventTemplate, finalizeEvent } from "nostr-tools/pure";
import { Agent, buildConnector } from "undici";
import { type WebSocket, WebSocketServer } from "ws";
import type { SignedEvent } from "../../src/marketplace/events.ts";
import type { DevKey } from "../../src/marketplace/identity.ts";
import { publishApp } from "../../src/marketplace/publish.ts";
import { generateKeyFile, openKeyFile } from "../../src/marketplace/signing.ts";
import {
  certificatePem,
  createAuthority,
  issueServerCertificate,
  newKeyPair,
  privateKeyPem,
} from "../../src/tls/x509.ts";

export function devKey(): DevKey {
  return openKeyFile(JSON.stringify(generateKeyFile()), "test key");
}

export function manifestOf(id: string, version: string, extra = ""): string {
  return `manifest: 1
id: ${id}
version: ${version}
name: App ${id}
description: A marketplace test app
containers:
  web:
    image: localhost/archy-test/busybox:1
    command: [sleep, "3600"]
${extra}`;
}

/** An app directory: its manifest and one file. */
export function appDir(base: string, id: string, version: string, extra = ""): string {
  const dir = join(base, `${id}-${version}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(join(dir, "files"), { recursive: true });
  writeFileSync(join(dir, "manifest.yml"), manifestOf(id, version, extra));
  writeFileSync(join(dir, "files", "index.html"), `<h1>${id} ${version}</h1>\n`);
  return dir;
}

/** Publishes an app directory to a relay, its bundle PUT to the relay's mirror. */
export function publishDir(
  key: DevKey,
  dir: string,
  relay: { url: string; bundlesUrl: string },
  now = Date.now(),
) {
  return publishApp(key, { dir, relays: [relay.url], putUrls: [relay.bundlesUrl], notes: "", now });
}

export function sign(key: DevKey, template: Partial<EventTemplate> & { kind: number }): SignedEvent {
  return finalizeEvent(
    { content: "", tags: [], created_at: Math.floor(Date.now() / 1000), ...template },
    key.secret,
  );
}

/**
 * A relay that answers every REQ with `answer(subscriptionId)`'s messages (raw text, sent as they
 * are), then EOSE unless told not to. Fault injection only: the real relay is dev-relay.ts.
 */
export async function hostileRelay(
  answer: (sub: string, socket: WebSocket, filters: Array<Record<string, unknown>>) => Promise<void> | void,
) {
  const server = createServer();
  const sockets = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024 });
  sockets.on("connection", (socket) => {
    socket.on("message", async (data) => {
      let message: unknown;
      try {
        message = JSON.parse(String(data));
      } catch {
        return;
      }
      if (Array.isArray(message) && message[0] === "REQ") {
        await answer(String(message[1]), socket, message.slice(2) as Array<Record<string, unknown>>);
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(["EOSE", message[1]]));
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Nip05Domains = {
  /** Reaches every name at the local server, trusting only the test authority (a node's nip05Dispatcher). */
  dispatcher: Agent;
  /** Every request, as `host/path?query`. */
  asked: string[];
  close: () => Promise<void>;
};

/**
 * HTTPS "domains" for NIP-05 checks without the internet: one local server with a certificate for
 * `domains` from a test authority, answering as `answer` says; the dispatcher sends every name there.
 */
export async function nip05Domains(
  domains: string[],
  answer: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<Nip05Domains> {
  const now = Date.now();
  const authority = await createAuthority("NIP-05 test CA", now, 1);
  const leaf = await newKeyPair();
  const certificate = await issueServerCertificate(
    authority,
    leaf.publicKey,
    { dns: domains, ips: [] },
    now,
    1,
  );
  const asked: string[] = [];
  const server = createHttpsServer(
    { cert: certificatePem(certificate), key: await privateKeyPem(leaf.privateKey) },
    (request, response) => {
      asked.push(`${request.headers.host}${request.url}`);
      answer(request, response);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const connect = buildConnector({ ca: certificatePem(authority.certificate) });
  const dispatcher = new Agent({
    connect: (options, callback) =>
      connect(
        { ...options, hostname: "127.0.0.1", port: String(port), servername: options.hostname },
        callback,
      ),
  });
  return {
    dispatcher,
    asked,
    close: async () => {
      await dispatcher.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
