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
