/**
 * A copy of the platform the rootless test user can read. CI runs the suite as root from a fresh
 * clone in a folder that user may not be able to enter; tests that run platform code *as* that user
 * (the Podman service lifecycle, later the daemon) run it from this copy instead.
 *
 * The copy holds what running `bin/archy` needs (`RUNNABLE_ENTRIES`: the build, the sources, the
 * pinned Node, the web UI) and test/support/ (drivers the tests start). Files are hard links (`cp -al` into a
 * fresh directory under /tmp, same filesystem: instant) or, where linking fails, a plain copy.
 * Directories are 0755; a file the test user could not read is replaced by a readable copy (its
 * original is never changed). One copy per test process, removed when the process exits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { RUNNABLE_ENTRIES } from "../../src/system/code-root.ts";
import { readableCopy } from "../../src/system/readable-copy.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
/** What the copy contains, relative to the repository root. */
export const STAGED_ENTRIES = [...RUNNABLE_ENTRIES, "test/support"] as const;

export type Staged = {
  /** The copy's root: run `<dir>/node_modules/.bin/node <dir>/src/...` as the test user. */
  dir: string;
  /** The pinned Node inside the copy. */
  node: string;
  /** How the files got there: hard links, or (when linking failed) copies. */
  method: "hardlink" | "copy";
};

let cached: Staged | undefined;

/** The copy for this test process, made on first use. */
export function stageForTestUser(): Staged {
  if (cached) return cached;
  const staged = stageTree(REPO_ROOT, STAGED_ENTRIES, "archy-stage-");
  process.on("exit", () => rmSync(staged.dir, { recursive: true, force: true }));
  cached = staged;
  return staged;
}

/**
 * Copies `entries` of `root` into a new directory under /tmp that every user can read (see above).
 * The caller removes it.
 */
export function stageTree(root: string, entries: readonly string[], prefix: string): Staged {
  const dir = mkdtempSync(join("/tmp", prefix));
  const method = readableCopy(root, entries, dir);
  return { dir, node: join(dir, "node_modules", ".bin", "node"), method };
}
