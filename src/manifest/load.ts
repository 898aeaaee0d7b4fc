/**
 * The I/O edge of manifests: finds `manifest.yml` for a path given by a user, reads it with a size
 * cap and parses it. Everything after this point works on typed `Manifest` values.
 */
import { open, realpath, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import type { ManifestIssue } from "./issues.ts";
import { MAX_MANIFEST_BYTES, type ParseResult, parseManifest } from "./parse.ts";

export const MANIFEST_FILE_NAMES = ["manifest.yml", "manifest.yaml"];

/** A parse result with where it came from and the exact text read (what a store keeps). */
export type LoadedManifest = ParseResult & { file: string; dir: string; text: string };

/** The manifest file for a path that names either the file or the app directory holding it. */
async function resolveManifestFile(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isDirectory()) return path;
  for (const name of MANIFEST_FILE_NAMES) {
    const candidate = join(path, name);
    if (
      await stat(candidate).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  throw new Error(`no manifest.yml in directory ${path}`);
}

/** Loads and validates one manifest; problems reading it become issues, never exceptions. */
export async function loadManifest(path: string, displayBase = process.cwd()): Promise<LoadedManifest> {
  let file = path;
  try {
    file = await realpath(await resolveManifestFile(path));
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      const display = displayName(file, displayBase);
      const text = buffer.subarray(0, bytesRead).toString("utf8");
      return { ...parseManifest(text, display), file, dir: dirname(file), text };
    } finally {
      await handle.close();
    }
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? "no such file or directory"
        : (error as Error).message;
    const issue: ManifestIssue = {
      file: path,
      line: 0,
      column: 0,
      path: "(file)",
      message: `cannot read the manifest: ${reason}`,
      fix: "pass a manifest.yml file or an app directory that contains one",
      rule: "file.read",
    };
    return { ok: false, issues: [issue], file, dir: dirname(file), text: "" };
  }
}

function displayName(file: string, base: string): string {
  const rel = relative(base, file);
  return rel.startsWith("..") ? file : rel;
}
