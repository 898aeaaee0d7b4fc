import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { build } from "esbuild";
import { sourceStack } from "./stack.ts";

const dir = mkdtempSync(join(tmpdir(), "archy-stack-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("an error's stack from a minified chunk names the TypeScript source's file and line", async () => {
  const source = join(dir, "thrower.ts");
  writeFileSync(
    source,
    [
      "type Input = { value: number };",
      "export function check(input: Input): number {",
      "  if (input.value < 0) {",
      '    throw new Error("negative");',
      "  }",
      "  return input.value;",
      "}",
      "try { check({ value: -1 }); } catch (error) { console.log((error as Error).stack); }",
    ].join("\n"),
  );
  const out = join(dir, "out");
  // As scripts/build.ts builds: minified, names kept, linked maps without the sources.
  await build({
    entryPoints: [source],
    outdir: out,
    bundle: true,
    format: "esm",
    platform: "node",
    minify: true,
    keepNames: true,
    sourcemap: "linked",
    sourcesContent: false,
    logLevel: "error",
  });
  const run = spawnSync(process.execPath, [join(out, "thrower.js")], { encoding: "utf8" });
  const stack = run.stdout.trim();
  assert.match(stack, /thrower\.js:1:\d+/, `the stack names the chunk: ${stack}`);
  const mapped = sourceStack(stack);
  assert.match(mapped, new RegExp(`${source.replaceAll("/", "\\/")}:4:\\d+`), mapped);
  assert.doesNotMatch(mapped, /thrower\.js:/, "no frame left in the chunk");
  assert.equal(
    sourceStack("Error: x\n    at f (file:///nowhere/none.js:3:4)"),
    "Error: x\n    at f (file:///nowhere/none.js:3:4)",
    "a file without a map keeps its frame",
  );
});
