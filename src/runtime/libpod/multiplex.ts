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

/** One line of a container's output, without its newline. */
export type OutputLine = { stream: OutputChunk["stream"]; line: string };

/**
 * A container's output as `podman logs` shows it, line by line: a line written in several pieces
 * (`printf 'step one ... '; sleep 1; echo ok`, which Podman stores and sends as two frames) is one
 * line, blank lines are lines, and a last line without a newline is still a line. Each stream is
 * assembled on its own, since their frames interleave.
 */
export async function* outputLines(chunks: AsyncIterable<OutputChunk>): AsyncGenerator<OutputLine> {
  const pending: Record<OutputChunk["stream"], string> = { stdout: "", stderr: "" };
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  for await (const { stream, data } of chunks) {
    const parts = (pending[stream] + decoders[stream].decode(data, { stream: true })).split("\n");
    pending[stream] = parts.pop() as string;
    for (const line of parts) yield { stream, line };
  }
  for (const stream of ["stdout", "stderr"] as const) {
    const rest = pending[stream] + decoders[stream].decode();
    if (rest !== "") yield { stream, line: rest };
  }
}
