/**
 * The I/O edge of manifests: finds `manifest.yml` for a path given by a user, reads it with a size
 * cap and parses it. Everything after this point works on typed `Manifest` values.
 */
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { fileProblem } from "../system/fs-errors.ts";
import { AppFileError, type ReadAppTreeOptions, readAppTree, readRegularFile } from "./app-files.ts";
import type { StoredEnvFile } from "./env-file.ts";
import { type EnvFileIssue, readEnvFiles } from "./env-files-read.ts";
import { compareIssues, type Finding, formatPath, type ManifestIssue, type PathSegment } from "./issues.ts";
import { type Locator, MAX_MANIFEST_BYTES, type ParseResult, parseManifest, placeAll } from "./parse.ts";
import type { Manifest } from "./schema.ts";

export const MANIFEST_FILE_NAMES = ["manifest.yml", "manifest.yaml"];

/**
 * A parse result with where it came from and the exact text read (what a store keeps), and the
 * env_files of its app directory, read and checked.
 */
export type LoadedManifest = ParseResult & {
  file: string;
  dir: string;
  text: string;
  envFiles?: Record<string, StoredEnvFile>;
};

/** An issue about a file as a whole (it cannot be read, it took too long), not about a place in it. */
export function fileIssue(file: string, message: string, fix: string): ManifestIssue {
  return { file, line: 0, column: 0, path: "(file)", message, fix, rule: "file.read" };
}

/** The manifest file for a path that names either the file or the app directory holding it. */
async function resolveManifestFile(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isDirectory()) return path;
  for (const name of MANIFEST_FILE_NAMES) {
    const candidate = join(path, name);
    const found = await stat(candidate).then(
      (s) => s.isFile(),
      (error: NodeJS.ErrnoException) => {
        // Missing is the question asked; anything else (a directory it may not enter) is the answer.
        if (error.code === "ENOENT" || error.code === "ENOTDIR") return false;
        throw error;
      },
    );
    if (found) return candidate;
  }
  throw new Error(`no manifest.yml in directory ${path}`);
}

/**
 * Loads and validates one manifest; problems reading it become issues, never exceptions. Only a
 * regular file is read (a named pipe would block the reader forever), and at most one byte more
 * than a manifest may have.
 */
export async function loadManifest(
  path: string,
  displayBase = process.cwd(),
  options: ReadAppTreeOptions = {},
): Promise<LoadedManifest> {
  let file = path;
  try {
    file = await realpath(await resolveManifestFile(path));
    const display = displayName(file, displayBase);
    const { data } = await readRegularFile(file, file, MAX_MANIFEST_BYTES + 1);
    const text = data.toString("utf8");
    const parsed = parseManifest(text, display);
    const dir = dirname(file);
    // A manifest.yml is its app directory's: the files it names must be there. Another file name
    // (an example, a test fixture) is a manifest on its own, without an app directory.
    const appDir = parsed.ok && MANIFEST_FILE_NAMES.includes(basename(file));
    const missing = appDir ? await checkAppFiles(parsed.manifest, dir, options) : [];
    const envFiles = appDir
      ? await readEnvFiles(parsed.manifest, dir, { signal: options.signal })
      : { files: {}, issues: [] };
    if (parsed.ok && missing.length + envFiles.issues.length > 0)
      return {
        ok: false,
        issues: [
          ...placeAll(missing, display, parsed.locate),
          ...envFiles.issues.map((issue) => envFileIssue(issue, dir, displayBase, display, parsed.locate)),
        ].sort(compareIssues),
        file,
        dir,
        text,
      };
    return { ...parsed, file, dir, text, envFiles: envFiles.files };
  } catch (error) {
    const issue = fileIssue(
      path,
      `cannot read the manifest: ${fileProblem(error, path)}`,
      (error as NodeJS.ErrnoException).code === "EACCES"
        ? "make the file (and the directories above it) readable by this user, or run as a user who can read it"
        : "pass a manifest.yml file or an app directory that contains one",
    );
    return { ok: false, issues: [issue], file, dir: dirname(file), text: "" };
  }
}

/**
 * An env_file's problem: a line's at that line of the env file (the manifest's field named in the
 * path), a problem with the file as a whole at the manifest's line that names it.
 */
function envFileIssue(
  issue: EnvFileIssue,
  dir: string,
  displayBase: string,
  manifestDisplay: string,
  locate: Locator,
): ManifestIssue {
  const { path, file, line, ...rest } = issue;
  if (line === 0) return placeAll([{ path, ...rest }], manifestDisplay, locate)[0] as ManifestIssue;
  return {
    file: displayName(join(dir, file), displayBase),
    line,
    column: 1,
    path: formatPath(path),
    ...rest,
  };
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
async function checkAppFiles(
  manifest: Manifest,
  dir: string,
  options: ReadAppTreeOptions,
): Promise<Finding[]> {
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
    options.signal?.throwIfAborted();
    const problem = await readAppTree(dir, file.name, options).then(
      (tree) =>
        file.what === "icon" && tree.entries[0]?.type !== "file" ? `${file.name} is not a file` : undefined,
      (error: unknown) => {
        if (error instanceof AppFileError) return error.message;
        throw error; // aborted by the caller's time limit
      },
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
