/**
 * Publishing a catalog as a static tree any web server can serve:
 *
 *   metadata/<N>.root.json        every root of the chain (nodes walk from the one they pinned)
 *   metadata/root.json            the newest root, to pin on new nodes
 *   metadata/<V>.targets.json, metadata/<V>.<namespace>.json, metadata/<V>.snapshot.json
 *   metadata/timestamp.json       the only file that changes in place
 *   targets/apps/<id>/<version>/<sha256>.<name>
 *
 * Atomic without locking the readers out: the catalog uses TUF consistent snapshots, so every file
 * but `timestamp.json` (and the `root.json` convenience copy) has a name that is never reused with
 * other content. A publish writes the whole new tree into a staging directory inside the output
 * (same file system), renames each new file into place, and renames `timestamp.json` last. A node
 * reading at any moment sees either the old timestamp, whose files are all still there (nothing is
 * deleted), or the new one, whose files were all in place before it.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CatalogError } from "./errors.ts";
import { writeFileAtomic } from "./files.ts";
import { consistentTargetPath, METADATA_DIR, TARGETS_DIR } from "./layout.ts";
import { metadataBytes, type Repository, status } from "./repository.ts";
import { allTargets, readTarget } from "./workspace.ts";

export type PublishedFile = { path: string; bytes: Uint8Array; mutable: boolean };

/** What a publish writes, in the order readers must see it: targets, metadata, timestamp last. */
export async function publishPlan(dir: string, repo: Repository, now: number): Promise<PublishedFile[]> {
  const problems = status(repo, now).filter((s) => s.problem !== undefined);
  if (problems.length > 0)
    throw new CatalogError(
      `the catalog is not ready to publish:\n${problems.map((p) => `  ${p.role}: ${p.problem}`).join("\n")}`,
    );
  const files: PublishedFile[] = [];
  for (const [path, expected] of allTargets(repo))
    files.push({
      path: `${TARGETS_DIR}/${consistentTargetPath(path, expected.sha256)}`,
      bytes: await readTarget(dir, path, expected),
      mutable: false,
    });
  const metadata = (name: string, bytes: Uint8Array, mutable = false) =>
    files.push({ path: `${METADATA_DIR}/${name}`, bytes, mutable });
  for (const [name, role] of Object.entries(repo.delegated))
    metadata(`${role.signed.version}.${name}.json`, metadataBytes(role));
  metadata(`${repo.targets.signed.version}.targets.json`, metadataBytes(repo.targets));
  metadata(`${repo.snapshot.signed.version}.snapshot.json`, metadataBytes(repo.snapshot));
  for (const root of repo.roots) metadata(`${root.signed.version}.root.json`, metadataBytes(root));
  const newest = repo.roots.at(-1);
  if (newest) metadata("root.json", metadataBytes(newest), true);
  metadata("timestamp.json", metadataBytes(repo.timestamp), true);
  return files;
}

/** Writes the plan into `out`; returns how many files were new. */
export async function publish(out: string, files: PublishedFile[]): Promise<number> {
  await mkdir(out, { recursive: true });
  const staging = join(out, `.staging-${randomBytes(6).toString("hex")}`);
  try {
    const moves: Array<{ from: string; to: string }> = [];
    for (const file of files) {
      const to = join(out, file.path);
      const existing = await readFile(to).catch(() => undefined);
      if (existing && !file.mutable) {
        if (Buffer.from(file.bytes).equals(existing)) continue;
        throw new CatalogError(
          `${to} was already published with other content, and published files are never replaced: sign a new version (archy catalog sign --role ROLE --renew) and publish again`,
        );
      }
      const from = join(staging, file.path);
      await writeFileAtomic(from, file.bytes);
      moves.push({ from, to });
    }
    for (const { from, to } of moves) {
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
    }
    return moves.length;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
