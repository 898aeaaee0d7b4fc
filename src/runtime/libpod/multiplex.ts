/**
 * Podman's attach/logs/exec streams without a TTY carry stdout and stderr in frames: one byte of
 * stream kind, three of padding, a big-endian 32-bit length, then the payload.
 */
import type { Readable } from "node:stream";

export type OutputChunk = { stream: "stdout" | "stderr"; data: Buffer };

const HEADER_BYTES = 8;

/** Splits complete frames off the front of `buffer`; what remains is an incomplete frame. */
export function parseFrames(buffer: Buffer): { frames: OutputChunk[]; rest: Buffer } {
  const frames: OutputChunk[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= buffer.length) {
    const length = buffer.readUInt32BE(offset + 4);
    if (offset + HEADER_BYTES + length > buffer.length) break;
    const data = buffer.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
    frames.push({ stream: buffer[offset] === 2 ? "stderr" : "stdout", data });
    offset += HEADER_BYTES + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

export async function* demultiplex(stream: Readable): AsyncGenerator<OutputChunk> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    const { frames, rest } = parseFrames(Buffer.concat([pending, chunk as Buffer]));
    pending = rest;
    yield* frames;
  }
}

/** Collects a whole framed output into stdout and stderr text, keeping at most the last `maxBytes` of each. */
export function collectOutput(raw: Buffer, maxBytes: number): { stdout: string; stderr: string } {
  const { frames } = parseFrames(raw);
  const join = (kind: OutputChunk["stream"]) => {
    const all = Buffer.concat(frames.filter((f) => f.stream === kind).map((f) => f.data));
    return (all.length > maxBytes ? all.subarray(all.length - maxBytes) : all).toString("utf8");
  };
  return { stdout: join("stdout"), stderr: join("stderr") };
}
