/**
 * A node:test reporter that shows, at the end of a run, the slowest test files with their wall time:
 * from the start of a file's process to its end, imports and top-level hooks included (the JUnit
 * report's test times leave those out). scripts/test writes it to a file and prints it after the
 * run, so every run shows where its time goes; test/slowest-first.txt, the files started first, is
 * kept in line with what it shows.
 *
 *   node --test --test-reporter=./scripts/test-file-times.ts --test-reporter-destination=FILE …
 */
import { resolve } from "node:path";
import type { TestEvent } from "node:test/reporters";

const SHOWN = 15;

export default async function* slowestFiles(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const seconds = new Map<string, number>();
  for await (const event of source) {
    if (event.type !== "test:complete" || event.data.nesting !== 0) continue;
    // The runner's own test for a file is named by the path it was given and located in that file.
    if (event.data.file === undefined || event.data.file !== resolve(event.data.name)) continue;
    seconds.set(event.data.name, event.data.details.duration_ms / 1000);
  }
  yield formatSlowest(seconds);
}

/** The SHOWN slowest files, longest first, after a line with the count and the sum of all. */
export function formatSlowest(seconds: ReadonlyMap<string, number>): string {
  const slowest = [...seconds].sort(([, a], [, b]) => b - a).slice(0, SHOWN);
  const sum = [...seconds.values()].reduce((total, s) => total + s, 0);
  const lines = slowest.map(([file, s]) => `${s.toFixed(0).padStart(6)} s  ${file}`);
  return [
    `test: the ${slowest.length} slowest of ${seconds.size} files (wall time of each; ${sum.toFixed(0)} s for all):`,
    ...lines,
    "",
  ].join("\n");
}
