/**
 * A WebSocket client over a plain TCP socket, for the CLI's event stream (`ws://`, the daemon's own
 * listener). Node's global `WebSocket` loads undici's implementation on first use: 25–90 ms here,
 * a third of an `archy start` (the `ws` package: 16–45 ms); this needs `node:net` and a SHA-1,
 * ~1.5 ms. It speaks what the daemon's stream needs (RFC 6455): the opening handshake with its
 * accept key checked, text messages from the server (fragmented or not, any length up to
 * MAX_MESSAGE_BYTES), pings answered, closes both ways with their code and reason. Compression is
 * never offered, so frames come uncompressed. `wss://` goes to the global WebSocket (see
 * `openWebSocket`).
 */
import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import type { WebSocketLike } from "../client/events.ts";

/** The largest message taken from the daemon (a burst of events is a few KB). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
/** Closed without a close frame (RFC 6455 §7.1.5): a lost connection, a refused handshake. */
const ABNORMAL = 1006;
/** A close frame without a code. */
const NO_STATUS = 1005;
const PROTOCOL_ERROR = 1002;
const TOO_BIG = 1009;

/** `ws://` through PlainWebSocket; anything else (`wss://`) through Node's own WebSocket. */
export function openWebSocket(url: string, headers: Record<string, string>): WebSocketLike {
  if (url.startsWith("ws://")) return new PlainWebSocket(new URL(url), headers);
  return new WebSocket(url, { headers } as unknown as string[]) as unknown as WebSocketLike;
}

export class PlainWebSocket implements WebSocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly #socket: Socket;
  readonly #key = randomBytes(16).toString("base64");
  #buffer: Buffer = Buffer.alloc(0);
  #open = false;
  #fragments: Buffer[] = [];
  #fragmentBytes = 0;
  /** The close the server sent (or the one this side decided on): told once the socket is gone. */
  #closing: { code: number; reason: string } | undefined;
  #closed = false;

  constructor(url: URL, headers: Record<string, string>) {
    this.#socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80) });
    this.#socket.setNoDelay(true);
    const lines = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `host: ${url.host}`,
      "upgrade: websocket",
      "connection: Upgrade",
      `sec-websocket-key: ${this.#key}`,
      "sec-websocket-version: 13",
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    this.#socket.on("connect", () => this.#socket.write(`${lines.join("\r\n")}\r\n\r\n`));
    this.#socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    this.#socket.on("error", (error) => this.onerror?.(error));
    this.#socket.on("close", () => this.#gone());
  }

  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    this.#closing ??= { code, reason };
    if (this.#open) {
      const text = Buffer.from(reason, "utf8").subarray(0, 123);
      const payload = Buffer.alloc(2 + text.length);
      payload.writeUInt16BE(code, 0);
      text.copy(payload, 2);
      this.#send(OPCODE.close, payload);
    }
    this.#socket.end();
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#open = false;
    this.onclose?.(this.#closing ?? { code: ABNORMAL, reason: "" });
  }

  /** Ends the connection for a reason of this side's (a bad handshake, a protocol error). */
  #fail(code: number, reason: string): void {
    this.#closing ??= { code, reason };
    if (this.#open) this.close(code, reason);
    else this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (!this.#open && !this.#handshake()) return;
    while (!this.#closed && this.#frame());
  }

  /** Reads the server's answer to the opening handshake; whether the connection is open. */
  #handshake(): boolean {
    const end = this.#buffer.indexOf("\r\n\r\n");
    if (end < 0) {
      if (this.#buffer.length > 16_384) this.#fail(ABNORMAL, "the handshake's answer is too long");
      return false;
    }
    const [status = "", ...fields] = this.#buffer.subarray(0, end).toString("latin1").split("\r\n");
    this.#buffer = this.#buffer.subarray(end + 4);
    const headers = new Map(
      fields.map((field) => {
        const colon = field.indexOf(":");
        return [field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim()] as const;
      }),
    );
    const expected = createHash("sha1").update(`${this.#key}${ACCEPT_GUID}`).digest("base64");
    if (!/^HTTP\/1\.1 101\b/.test(status) || headers.get("sec-websocket-accept") !== expected) {
      this.#fail(ABNORMAL, `the server did not open a WebSocket: ${status}`);
      return false;
    }
    this.#open = true;
    this.onopen?.({});
    return true;
  }

  /** Takes one whole frame off the buffer and acts on it; false when a whole one is not there yet. */
  #frame(): boolean {
    const buffer = this.#buffer;
    if (buffer.length < 2) return false;
    const first = buffer[0] as number;
    const second = buffer[1] as number;
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    if ((first & 0x70) !== 0 || (second & 0x80) !== 0) {
      // Reserved bits (no extension was agreed) or a masked frame from the server.
      this.#fail(PROTOCOL_ERROR, "a frame this client cannot read");
      return false;
    }
    let length = second & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buffer.length < 4) return false;
      length = buffer.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buffer.length < 10) return false;
      const long = buffer.readBigUInt64BE(2);
      if (long > BigInt(MAX_MESSAGE_BYTES)) {
        this.#fail(TOO_BIG, "a message larger than this client takes");
        return false;
      }
      length = Number(long);
      offset = 10;
    }
    if (buffer.length < offset + length) return false;
    const payload = buffer.subarray(offset, offset + length);
    this.#buffer = buffer.subarray(offset + length);
    if (opcode === OPCODE.close) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : NO_STATUS;
      this.#closing ??= { code, reason: payload.subarray(2).toString("utf8") };
      this.close(code === NO_STATUS ? 1000 : code);
      return false;
    }
    if (opcode === OPCODE.ping) {
      this.#send(OPCODE.pong, payload);
      return true;
    }
    if (opcode === OPCODE.pong) return true;
    if (opcode !== OPCODE.text && opcode !== OPCODE.binary && opcode !== OPCODE.continuation) {
      this.#fail(PROTOCOL_ERROR, `an unknown opcode ${opcode}`);
      return false;
    }
    this.#fragmentBytes += payload.length;
    if (this.#fragmentBytes > MAX_MESSAGE_BYTES) {
      this.#fail(TOO_BIG, "a message larger than this client takes");
      return false;
    }
    // Copied: the buffer it is a view of is reused for what comes next.
    this.#fragments.push(Buffer.from(payload));
    if (!fin) return true;
    const message = Buffer.concat(this.#fragments).toString("utf8");
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.onmessage?.({ data: message });
    return true;
  }

  /**
   * One control frame from the client (a close or a pong: the stream sends nothing else), masked as
   * every client frame must be (RFC 6455 §5.3); a control frame's payload is at most 125 bytes.
   */
  #send(opcode: number, payload: Buffer): void {
    const mask = randomBytes(4);
    const header = Buffer.from([0x80 | opcode, 0x80 | Math.min(payload.length, 125)]);
    payload = payload.subarray(0, 125);
    const masked = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] as number) ^ (mask[i % 4] as number);
    this.#socket.write(Buffer.concat([header, mask, masked]));
  }
}
