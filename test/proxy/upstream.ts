/**
 * A stand-in app on a loopback port, for protocol-level tests and the benchmark (the real apps in
 * containers are test/proxy/apps.test.ts): it says what it received (headers, bytes), redirects,
 * sets cookies, streams server-sent events and large bodies, answers long polls and echoes
 * WebSocket messages.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { Socket } from "node:net";
import { WebSocketServer } from "ws";

export type Upstream = {
  port: number;
  /** The headers of every request, in order. */
  seen: Array<{ url: string; headers: IncomingHttpHeaders }>;
  /** The bytes `/bytes` has handed to its connections so far (all requests together). */
  sent: () => number;
  close: () => Promise<void>;
};

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/**
 * Writes `bytes` bytes of `a`, waiting for the reader (back-pressure), then ends; with `cutAfter`,
 * breaks the connection once that many are written instead (an app dying mid-body). `onSent`
 * counts what was handed to the connection.
 */
function stream(
  res: import("node:http").ServerResponse,
  bytes: number,
  onSent: (n: number) => void,
  cutAfter = Number.POSITIVE_INFINITY,
): void {
  let left = bytes;
  let written = 0;
  const pump = () => {
    while (left > 0) {
      if (written >= cutAfter) {
        res.socket?.destroy();
        return;
      }
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      written += piece.length;
      onSent(piece.length);
      if (!res.write(piece)) {
        res.once("drain", pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

export async function startUpstream(port = 0): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  let sent = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://upstream");
    switch (url.pathname) {
      case "/redirect":
        res.writeHead(302, { location: `http://127.0.0.1:${address()}/landed` }).end();
        return;
      case "/cookie":
        res
          .writeHead(200, {
            "set-cookie": ["theirs=1; Domain=localhost; Path=/; HttpOnly", "plain=2; Path=/"],
          })
          .end("cookies\n");
        return;
      case "/sse": {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
        res.write("data: first\n\n");
        // The second event only once the client has seen the first (it asks for /sse-next).
        sseWaiters.push(() => res.end("data: second\n\n"));
        return;
      }
      case "/sse-next":
        for (const waiter of sseWaiters.splice(0)) waiter();
        res.end("ok\n");
        return;
      case "/bytes":
        // `close`: the app closes its connection after the body, as HTTP/1.0 servers do (busybox httpd).
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "content-length": Number(url.searchParams.get("n")),
          ...(url.searchParams.has("close") ? { connection: "close" } : {}),
        });
        stream(
          res,
          Number(url.searchParams.get("n")),
          (n) => {
            sent += n;
          },
          url.searchParams.has("cut") ? Number(url.searchParams.get("cut")) : undefined,
        );
        return;
      case "/upload": {
        let received = 0;
        req.on("data", (chunk: Buffer) => {
          received += chunk.length;
        });
        req.on("end", () => res.end(JSON.stringify({ received })));
        return;
      }
      case "/poll":
        setTimeout(() => res.end("polled\n"), Number(url.searchParams.get("ms") ?? 1000));
        return;
      case "/big-header":
        res.writeHead(200, { "x-big": "b".repeat(Number(url.searchParams.get("n"))) }).end("big\n");
        return;
      default:
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    }
  });
  const sseWaiters: Array<() => void> = [];
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket, req) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    socket.on("message", (data, binary) => socket.send(data, { binary }));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = () => {
    const a = server.address();
    return typeof a === "object" && a ? a.port : 0;
  };
  return {
    port: address(),
    seen,
    sent: () => sent,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
