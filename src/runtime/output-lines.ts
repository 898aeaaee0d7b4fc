import type { OutputChunk } from "./runtime.ts";

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
