/**
 * A copy of some of a tree that every user can read, for running the platform's code as another
 * user from a checkout that user cannot enter (CI clones as root into a private folder; the gate
 * runs its daemon as the service user). Files are hard links where the file system allows
 * (instant), plain copies otherwise; directories are 0755, and a file others cannot read is replaced
 * by a readable copy (a hard link shares its mode with the original, which is never changed).
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
} from "node:fs";
import { join } from "node:path";

/** Copies the `entries` of `root` that exist into `dir` (made 0755); says how the files got there. */
export function readableCopy(root: string, entries: readonly string[], dir: string): "hardlink" | "copy" {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const present = entries.filter((entry) => existsSync(join(root, entry)));
  let method: "hardlink" | "copy" = "hardlink";
  try {
    for (const entry of present) copyEntry(root, dir, entry, ["-al"]);
  } catch {
    method = "copy";
    for (const entry of present) {
      rmSync(join(dir, entry), { recursive: true, force: true });
      copyEntry(root, dir, entry, ["-a"]);
    }
  }
  makeReadable(dir);
  return method;
}

function copyEntry(root: string, dir: string, entry: string, flags: string[]): void {
  const parent = join(dir, ...entry.split("/").slice(0, -1));
  mkdirSync(parent, { recursive: true });
  execFileSync("cp", [...flags, join(root, entry), parent], { stdio: ["ignore", "ignore", "pipe"] });
}

/** Symbolic links are left as they are: they point inside the copy or to readable places. */
function makeReadable(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) makeReadable(join(path, name));
    return;
  }
  if (!stat.isFile()) return;
  const executable = (stat.mode & 0o100) !== 0;
  if ((stat.mode & 0o004) !== 0 && (!executable || (stat.mode & 0o001) !== 0)) return;
  const temporary = `${path}.readable-copy`;
  copyFileSync(path, temporary);
  chmodSync(temporary, executable ? 0o755 : 0o644);
  renameSync(temporary, path);
}
