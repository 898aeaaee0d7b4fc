/**
 * Reads a manifest's env_files from its app directory, as the install stores them and `archy app
 * validate` checks them: each path canonicalised and kept inside the directory (readAppTree), a
 * regular file of at most ENV_FILE_MAX_BYTES, its lines checked (env-file.ts).
 */
import { AppFileError, type AppTree, readAppTree } from "./app-files.ts";
import { checkEnvFile, ENV_FILE_MAX_BYTES, envFileDigest, type StoredEnvFile } from "./env-file.ts";
import type { PathSegment } from "./issues.ts";
import type { Manifest } from "./schema.ts";

/** A problem of one env_file: where the manifest names it, and the line of the file (0: the whole file). */
export type EnvFileIssue = {
  path: PathSegment[];
  file: string;
  line: number;
  message: string;
  fix: string;
  rule: string;
};

export type ReadEnvFilesOptions = {
  /** For a signed app: why what was read is not what was signed (it is refused), or undefined. */
  verify?: (from: string, tree: AppTree) => string | undefined;
  signal?: AbortSignal;
};

/** Every env_file path of the manifest, with where it is named (a file named twice is read once). */
export function envFilePaths(manifest: Manifest): Array<{ file: string; path: PathSegment[] }> {
  const seen = new Set<string>();
  return Object.entries(manifest.containers).flatMap(([key, container]) =>
    (container.env_file ?? []).flatMap((file, index) => {
      if (seen.has(file)) return [];
      seen.add(file);
      return [{ file, path: ["containers", key, "env_file", index] }];
    }),
  );
}

/** The manifest's env_files as the store keeps them, by path, or every problem found in them. */
export async function readEnvFiles(
  manifest: Manifest,
  dir: string,
  options: ReadEnvFilesOptions = {},
): Promise<{ files: Record<string, StoredEnvFile>; issues: EnvFileIssue[] }> {
  const files: Record<string, StoredEnvFile> = {};
  const issues: EnvFileIssue[] = [];
  for (const { file, path } of envFilePaths(manifest)) {
    const whole = (message: string, fix: string, rule = "file.app-file") =>
      issues.push({ path, file, line: 0, message, fix, rule });
    let tree: AppTree;
    try {
      tree = await readAppTree(dir, file, {
        signal: options.signal,
        limits: { bytes: ENV_FILE_MAX_BYTES, entries: 1 },
      });
    } catch (error) {
      if (!(error instanceof AppFileError)) throw error; // aborted by the caller's time limit
      whole(
        `env_file ${error.message}`,
        `put the file itself (at most ${ENV_FILE_MAX_BYTES / 1024} KiB, not a link to a file elsewhere) in the app directory, or correct the path`,
      );
      continue;
    }
    const entry = tree.entries[0];
    if (entry?.type !== "file") {
      whole(`env_file ${file} is not a file`, "name a file of NAME=value lines");
      continue;
    }
    const unsigned = options.verify?.(file, tree);
    if (unsigned) {
      whole(
        `env_file ${file} is not what the app's publisher signed: ${unsigned}`,
        "refresh the catalog, then install again",
      );
      continue;
    }
    const text = (entry.data ?? Buffer.alloc(0)).toString("utf8");
    const problems = checkEnvFile(manifest, text);
    for (const problem of problems) issues.push({ path, file, ...problem });
    if (problems.length === 0) files[file] = { text, sha256: envFileDigest(text) };
  }
  return { files, issues };
}
