/**
 * The app behind the proxy benchmark (bench/proxy.bench.ts), in a process of its own so that it does
 * not share the daemon's event loop: `GET /small` answers 1 KiB of JSON, `GET /bytes?n=N` streams N
 * bytes (back-pressure respected), and WebSocket messages are echoed. It prints its port on stdout.
 */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const SMALL = Buffer.from(JSON.stringify({ ok: true, padding: "x".repeat(1000) }));
const CHUNK = Buffer.alloc(256 * 1024, 0x61);

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://upstream");
  if (url.pathname === "/small") {
    res.writeHead(200, { "content-type": "application/json", "content-length": SMALL.length });
    res.end(SMALL);
    return;
  }
  if (url.pathname === "/bytes") {
    let left = Number(url.searchParams.get("n"));
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": left });
    const pump = () => {
      while (left > 0) {
        const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
    return;
  }
  res.writeHead(404).end();
});
new WebSocketServer({ server }).on("connection", (socket) =>
  socket.on("message", (data, binary) => socket.send(data, { binary })),
);
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
});
process.on("SIGTERM", () => process.exit(0));
