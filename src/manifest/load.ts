/**
 * The I/O edge of manifests: finds `manifest.yml` for a path given by a user, reads it with a size
 * cap and parses it. Everything after this point works on typed `Manifest` values.
 */
import { type FileHandle, open, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { readAppTree } from "./app-files.ts";
import { compareIssues, type Finding, type ManifestIssue, type PathSegment } from "./issues.ts";
import { MAX_MANIFEST_BYTES, type ParseResult, parseManifest, placeAll } from "./parse.ts";
import type { Manifest } from "./schema.ts";

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
      const display = displayName(file, displayBase);
      const text = (await readCapped(handle, MAX_MANIFEST_BYTES)).toString("utf8");
      const parsed = parseManifest(text, display);
      const dir = dirname(file);
      // A manifest.yml is its app directory's: the files it names must be there. Another file name
      // (an example, a test fixture) is a manifest on its own, without an app directory.
      const missing =
        parsed.ok && MANIFEST_FILE_NAMES.includes(basename(file))
          ? await checkAppFiles(parsed.manifest, dir)
          : [];
      if (parsed.ok && missing.length > 0)
        return {
          ok: false,
          issues: placeAll(missing, display, parsed.locate).sort(compareIssues),
          file,
          dir,
          text,
        };
      return { ...parsed, file, dir, text };
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

/** Bytes read at a time: a manifest is usually a few KiB, so few reads need more than one. */
const READ_CHUNK = 16 * 1024;

/**
 * The file's bytes, but never more than `cap + 1` (one more than allowed tells the parser the file
 * is too large): memory follows the file's size, not the cap, when many files are read at once.
 */
async function readCapped(handle: FileHandle, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total <= cap) {
    const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, cap + 1 - total));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, total);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(chunks, total);
}

function displayName(file: string, base: string): string {
  const rel = relative(base, file);
  return rel.startsWith("..") ? file : rel;
}

/**
 * The files a manifest takes from its app directory, the icon and the sources of `copy_from_host`
 * steps without a `root`, exist there and stay inside it: checked as the hook that copies them does
 * (symbolic links resolved, none leading outside the directory).
 */
async function checkAppFiles(manifest: Manifest, dir: string): Promise<Finding[]> {
  const wanted: Array<{ path: PathSegment[]; name: string; what: string; fix: string }> = [];
  if (manifest.icon !== undefined && !/^https:\/\//.test(manifest.icon))
    wanted.push({
      path: ["icon"],
      name: manifest.icon,
      what: "icon",
      fix: "put the icon file itself (not a link to a file elsewhere) in the app directory, or use an https URL",
    });
  for (const [hook, steps] of Object.entries(manifest.hooks))
    for (const [index, step] of steps.entries())
      if ("copy_from_host" in step && step.copy_from_host.root === undefined)
        wanted.push({
          path: ["hooks", hook, index, "copy_from_host", "from"],
          name: step.copy_from_host.from,
          what: "copy source",
          fix: "put the file itself (not a link to a file elsewhere) in the app directory, or correct `from`",
        });
  const findings: Finding[] = [];
  for (const file of wanted) {
    const problem = await readAppTree(dir, file.name).then(
      (tree) =>
        file.what === "icon" && tree.entries[0]?.type !== "file" ? `${file.name} is not a file` : undefined,
      (error: Error) => error.message,
    );
    if (problem)
      findings.push({
        path: file.path,
        message: `${file.what} ${problem}`,
        fix: file.fix,
        rule: "file.app-file",
      });
  }
  return findings;
}
