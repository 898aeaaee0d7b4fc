/**
 * What the suite's own run shows and how it orders its files (scripts/test): the slowest test files
 * with their wall time, from a reporter the real node:test runner drives (scripts/test-file-times.ts),
 * and test/slowest-first.txt, the files started first, naming test files the suite has, each once.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { formatSlowest } from "../../scripts/test-file-times.ts";
import { exec, SYSTEM_PATH } from "../../src/system/exec.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const node = join(root, "node_modules", ".bin", "node");

test("the slowest files come first, at most 15, after the count of files and the sum of their times", () => {
  const seconds = new Map(Array.from({ length: 20 }, (_, i) => [`test/f${i}.test.ts`, i * 10 + 0.4]));
  const lines = formatSlowest(seconds).trimEnd().split("\n");
  assert.equal(lines[0], "test: the 15 slowest of 20 files (wall time of each; 1908 s for all):");
  assert.deepEqual(
    lines.slice(1).map((line) => line.trim()),
    Array.from({ length: 15 }, (_, i) => `${(19 - i) * 10} s  test/f${19 - i}.test.ts`),
  );
});

test("the reporter gives each file run its wall time once, top-level hooks included, by the path it was given", async () => {
  const dir = mkdtempSync(join(tmpdir(), "archy-file-times-"));
  try {
    // A top-level hook the JUnit report's test times leave out, and a test named like another file.
    writeFileSync(
      join(dir, "hooked.test.mjs"),
      `import { before, describe, test } from "node:test";
before(() => new Promise((resolve) => setTimeout(resolve, 1500)));
describe("a suite", () => { test("a test", () => {}); });
test("other.test.mjs", () => {});
`,
    );
    writeFileSync(
      join(dir, "other.test.mjs"),
      `import { test } from "node:test";\ntest("quick", () => {});\n`,
    );
    const run = await exec(
      node,
      [
        "--test",
        "--test-concurrency=2",
        `--test-reporter=${join(root, "scripts", "test-file-times.ts")}`,
        "--test-reporter-destination=stdout",
        "hooked.test.mjs",
        "other.test.mjs",
      ],
      // Not this file's runner's environment: NODE_TEST_CONTEXT would make it a child of that run.
      { cwd: dir, env: { PATH: SYSTEM_PATH }, replaceEnv: true },
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const lines = run.stdout.trimEnd().split("\n");
    assert.match(
      lines[0] ?? "",
      /^test: the 2 slowest of 2 files \(wall time of each; \d+ s for all\):$/,
      run.stdout,
    );
    const times = new Map(
      lines.slice(1).map((line) => {
        const [, seconds, file] = /^ *(\d+) s {2}(\S+)$/.exec(line) ?? [];
        return [file, Number(seconds)];
      }),
    );
    assert.deepEqual([...times.keys()].sort(), ["hooked.test.mjs", "other.test.mjs"], run.stdout);
    assert.ok((times.get("hooked.test.mjs") ?? 0) >= 2, `the 1.5 s hook is counted (rounded): ${run.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("test/slowest-first.txt names test files of the suite, each once", () => {
  const listed = readFileSync(join(root, "test", "slowest-first.txt"), "utf8")
    .split("\n")
    .map((line) => line.split(/\s/)[0] ?? "")
    .filter((file) => file !== "" && !file.startsWith("#"));
  assert.ok(listed.length > 0, "some files are listed");
  assert.deepEqual(listed, [...new Set(listed)], "each once");
  for (const file of listed) {
    assert.match(file, /^(src|test)\/.*\.test\.ts$/, `${file}: a test file the suite runs`);
    assert.ok(existsSync(join(root, file)), `${file} exists`);
  }
});
