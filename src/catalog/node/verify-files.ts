/**
 * A catalog app's files, verified at the moment of use: what a hook copies from the node's copy of
 * the app (at install, at update, at every start) must be exactly what the catalog signs — each
 * file its signed length and hashes, nothing unsigned. The refresh verified the copy when it wrote
 * it; a file changed on disk since is refused here, never installed. Pure.
 */
import { posix } from "node:path";
import type { AppTree } from "../../manifest/app-files.ts";
import { type SignedFile, signedProblem } from "../targets.ts";

/** The signed files of an app version, by their path in its directory (`manifest.yml`, `files/a`). */
export type SignedFiles = ReadonlyMap<string, SignedFile>;

/** Whether `name` (a directory of the app, `files/www`) holds a signed file. */
export function holdsSignedFile(files: SignedFiles, name: string): boolean {
  for (const file of files.keys()) if (file.startsWith(`${name}/`)) return true;
  return false;
}

/**
 * Why a tree read from the app's directory is not what the catalog signs, or undefined. `from` is
 * the path the tree was read from (readAppTree names its entries from the last part of it).
 */
export function unsignedCopyProblem(files: SignedFiles, from: string, tree: AppTree): string | undefined {
  const parent = posix.dirname(from);
  for (const entry of tree.entries) {
    const name = parent === "." ? entry.relative : `${parent}/${entry.relative}`;
    if (entry.type === "directory") {
      if (!holdsSignedFile(files, name)) return `${name}/ holds none of the app's signed files`;
      continue;
    }
    const target = files.get(name);
    if (!target) return `${name} is not one of the app's signed files`;
    const problem = signedProblem(target, entry.data ?? Buffer.alloc(0));
    if (problem) return `${name} does not match its signed length and hashes (${problem})`;
  }
  return undefined;
}
