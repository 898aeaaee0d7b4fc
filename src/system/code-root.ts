/**
 * Where the platform's code lives: the checkout, or the copy installed in /opt/archipelago/current.
 * Modules run from `src/` and from the build (`dist/`, a link to `.build/<id>/`), at different
 * depths, so the root is found, not counted: the nearest directory above this module that holds a
 * `package.json` (neither `src/` nor a build directory has one).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

function findCodeRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no Archipelago checkout above ${from}`);
  }
}

export const CODE_ROOT = findCodeRoot(import.meta.dirname);

/**
 * What running `bin/archy` from a copy of the code root needs: the build (`dist`, a link into
 * `.build/`), the sources (bin/archy builds again when one is newer than the build), the pinned
 * Node, and what is read at run time (the manifest schema, app templates, the web UI). Copies made
 * for another user (the gate's, the service's, the tests') take these.
 */
export const RUNNABLE_ENTRIES = [
  "package.json",
  "package-lock.json",
  "bin",
  "dist",
  ".build",
  "src",
  "node_modules",
  "schema",
  "templates",
  "web/dist",
] as const;
