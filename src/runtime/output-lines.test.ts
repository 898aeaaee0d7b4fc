import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type OutputLine, outputLines } from "./output-lines.ts";
import type { OutputChunk } from "./runtime.ts";

async function linesOf(chunks: Array<[OutputChunk["stream"], string | Buffer]>): Promise<string[]> {
  const lines: OutputLine[] = [];
  const source = (async function* () {
    for (const [stream, data] of chunks) yield { stream, data: Buffer.from(data) };
  })();
  for await (const line of outputLines(source)) lines.push(line);
  return lines.map(({ stream, line }) => `${stream}:${line}`);
}

describe("outputLines: a container's output as podman logs shows it", () => {
  test("a line written in pieces is one line; blank lines and a last line without newline are kept", async () => {
    assert.deepEqual(
      await linesOf([
        ["stdout", "step one ... "],
        ["stdout", "ok\n"],
        ["stdout", "\n"],
        ["stdout", "\n"],
        ["stdout", "after-blank\n"],
        ["stdout", "no newline at end"],
      ]),
      ["stdout:step one ... ok", "stdout:", "stdout:", "stdout:after-blank", "stdout:no newline at end"],
    );
  });

  test("stdout and stderr are assembled apart, and a character split between frames stays whole", async () => {
    const euro = Buffer.from("€\n");
    assert.deepEqual(
      await linesOf([
        ["stdout", "progress: "],
        ["stderr", "warning\n"],
        ["stdout", euro.subarray(0, 1)],
        ["stdout", euro.subarray(1)],
      ]),
      ["stderr:warning", "stdout:progress: €"],
    );
  });
});
