/**
 * One HTTP/1.1 POST over a plain TCP socket, for the CLI's calls to the daemon. Node 24's
 * `node:http` client (like `fetch`) loads ~110 internal modules on first use — TLS, HTTP/2, zlib,
 * web streams, undici — which cost a command ~45 ms and ~15 MB: more than the rest of `archy ls`
 * (docs/architecture.md, "Starting fast"). A request here is one write; the answer is read until the
 * server closes (`Connection: close`), then split into status, headers and body (a `Content-Length`
 * or chunked body). https URLs go through `node:https`, loaded only for them.
 */
import { connect } from "node:net";

export type HttpAnswer = { status: number; text: string };

/** The exchange took longer than its time limit. */
export class RequestTimeout extends Error {
  override name = "RequestTimeout";
}

/** The server's answer was not HTTP/1.x. */
export class NotHttp extends Error {
  override name = "NotHttp";
}

export function postJson(
  url: URL,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpAnswer> {
  const all = {
    ...headers,
    host: url.host,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  };
  if (url.protocol === "https:") return viaNodeHttps(url, body, all, timeoutMs);
  const head = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    ...Object.entries(all).map(([name, value]) => `${name}: ${value}`),
  ].join("\r\n");
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new RequestTimeout()), timeoutMs);
    // Written, not ended: a server may take a half-closed connection for an aborted request.
    // `Connection: close` has it close the connection once it has answered.
    socket.on("connect", () => socket.write(`${head}\r\n\r\n${body}`));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(parseAnswer(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Status and body of a whole HTTP/1.x answer (read to the end of the connection). Pure. */
export function parseAnswer(raw: Buffer): HttpAnswer {
  const end = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, end === -1 ? raw.length : end).toString("latin1");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (end === -1 || !status)
    throw new NotHttp(`not an HTTP/1.x answer: ${JSON.stringify(head.slice(0, 40))}`);
  const header = (name: string) => new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, "i").exec(head)?.[1]?.trim();
  let body = raw.subarray(end + 4);
  if (/\bchunked\b/i.test(header("transfer-encoding") ?? "")) body = unchunk(body);
  else {
    const length = header("content-length");
    if (length !== undefined) body = body.subarray(0, Number(length));
  }
  return { status: Number(status[1]), text: body.toString("utf8") };
}

/** The data of a chunked body. */
function unchunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
    if (!Number.isFinite(size)) throw new NotHttp("a chunked body with a bad chunk size");
    if (size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

async function viaNodeHttps(
  url: URL,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpAnswer> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
      });
      response.on("error", reject);
    });
    const timer = setTimeout(() => req.destroy(new RequestTimeout()), timeoutMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}
