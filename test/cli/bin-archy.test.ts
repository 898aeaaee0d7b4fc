/**
 * bin/archy's choice between the build and the sources, on a code root made for the test: the real
 * bin/archy and pinned Node, a "build" (`dist/main.js`) and "sources" (`src/cli/main.ts`) that each
 * print which they are, and a build script that fails (so that a stale build is never run: the
 * sources run instead). A source checkout (with `.git`) is walked for newer sources at every start;
 * a copy of the code is not (it is built before it is copied), unless ARCHY_CHECK_BUILD=1 asks.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { CODE_ROOT } from "../../src/system/code-root.ts";

const root = mkdtempSync(join(tmpdir(), "archy-bin-"));
const built = join(root, "dist", "BUILT");
const source = join(root, "src", "cli", "main.ts");

function layout(): void {
  rmSync(root, { recursive: true, force: true });
  for (const dir of ["bin", "dist", "src/cli", "scripts", "node_modules/node/bin"])
    mkdirSync(join(root, dir), { recursive: true });
  copyFileSync(join(CODE_ROOT, "bin", "archy"), join(root, "bin", "archy"));
  symlinkSync(
    join(CODE_ROOT, "node_modules", "node", "bin", "node"),
    join(root, "node_modules/node/bin/node"),
  );
  writeFileSync(join(root, "dist", "main.js"), 'console.log("build");\n');
  writeFileSync(source, 'console.log("sources");\n');
  writeFileSync(join(root, "scripts", "build.ts"), "process.exit(1);\n");
  writeFileSync(join(root, "package-lock.json"), "{}\n");
  // The build is older than the sources: an hour ago.
  writeFileSync(built, "then\n");
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(built, hourAgo, hourAgo);
}

const run = (env: Record<string, string> = {}) =>
  execFileSync(join(root, "bin", "archy"), [], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  }).trim();

describe("bin/archy: the build or the sources", () => {
  beforeEach(layout);
  after(() => rmSync(root, { recursive: true, force: true }));

  it("in a source checkout, never runs a build older than a source (the sources run when it cannot build)", () => {
    writeFileSync(join(root, ".git"), "gitdir: elsewhere\n");
    assert.equal(run(), "sources");
  });

  it("in a source checkout, runs the build when no source is newer", () => {
    writeFileSync(join(root, ".git"), "gitdir: elsewhere\n");
    const hoursAgo = new Date(Date.now() - 7_200_000);
    for (const file of [
      source,
      join(root, "scripts", "build.ts"),
      join(root, "package-lock.json"),
      join(root, "src", "cli"),
      join(root, "src"),
    ])
      utimesSync(file, hoursAgo, hoursAgo);
    assert.equal(run(), "build");
  });

  it("in a copy of the code (no .git), runs its build without walking the sources", () => {
    assert.equal(run(), "build");
  });

  it("in a copy, ARCHY_CHECK_BUILD=1 walks the sources as in a checkout", () => {
    assert.equal(run({ ARCHY_CHECK_BUILD: "1" }), "sources");
  });

  it("finds its code root when run through a link to it and by a relative path", () => {
    const link = join(root, "elsewhere", "archy");
    mkdirSync(join(root, "elsewhere"));
    symlinkSync(join(root, "bin", "archy"), link);
    const env = { PATH: process.env.PATH ?? "" };
    assert.equal(execFileSync(link, [], { encoding: "utf8", env }).trim(), "build");
    assert.equal(execFileSync("bin/archy", [], { cwd: root, encoding: "utf8", env }).trim(), "build");
    assert.equal(
      execFileSync("./archy", [], { cwd: join(root, "bin"), encoding: "utf8", env }).trim(),
      "build",
    );
  });

  it("without a build (no dist/BUILT), runs the sources when it cannot build", () => {
    unlinkSync(built);
    assert.equal(run(), "sources");
  });
});
