/**
 * `archy app import`: the shell around the importer. Reads the compose files (and the env files
 * they name) with bounds, assembles and converts the project (pure), validates the manifest it
 * makes with the manifest validator itself, and writes the app directory: manifest.yml (with the
 * `$schema` line), an icon unless the file names one, README.md and IMPORT.md (the report).
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { Document, isMap, isPair, isScalar, isSeq, parse as parseYaml, visit } from "yaml";
import type { ManifestIssue } from "../manifest/issues.ts";
import { parseManifest } from "../manifest/parse.ts";
import { fillTemplate, initialsOf } from "../scaffold/fill.ts";
import { schemaLine, schemaReference } from "../scaffold/schema-ref.ts";
import type { AppFile } from "../scaffold/write-app.ts";
import { CODE_ROOT } from "../system/code-root.ts";
import { fileProblem } from "../system/fs-errors.ts";
import { appIdFrom, convertProject, type ManifestData } from "./convert.ts";
import { parseEnvFile } from "./dotenv.ts";
import { MAX_COMPOSE_BYTES } from "./parse.ts";
import { type FileRead, loadProject } from "./project.ts";
import { compareLines, type ReportLine, reportMarkdown } from "./report.ts";
import { importLookup } from "./variables.ts";

export type ImportOptions = {
  files: readonly string[];
  id?: string;
  profiles?: readonly string[];
  /** The file of interpolation variables; default: `.env` beside the first compose file, if any. */
  envFile?: string;
  /** Where the app directory will be (for the `$schema` reference). */
  out?: string;
  schema?: string;
  /** Paths in the report are shown relative to this directory. */
  cwd?: string;
};

export type ImportResult = {
  ok: boolean;
  appId?: string;
  lines: ReportLine[];
  /** The manifest's problems, if the validator refused what the import made. */
  issues: ManifestIssue[];
  files: AppFile[];
  target?: string;
};

const TEMPLATE_DIR = join(CODE_ROOT, "templates/import");

/** Reads a file without following it into a named pipe or a device, at most `max` bytes. */
export function readBounded(path: string, max = MAX_COMPOSE_BYTES): FileRead {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const info = fstatSync(fd);
    if (!info.isFile()) return { ok: false, missing: false, message: "it is not a regular file" };
    if (info.size > max) return { ok: false, missing: false, message: `it is larger than ${max / 1024} KiB` };
    const buffer = Buffer.alloc(info.size);
    let read = 0;
    while (read < info.size) {
      const n = readSync(fd, buffer, read, info.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return { ok: true, text: buffer.subarray(0, read).toString("utf8") };
  } catch (error) {
    return {
      ok: false,
      missing: (error as NodeJS.ErrnoException).code === "ENOENT",
      message: fileProblem(error, path),
    };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A file a compose file names (an env file, a config, an included or extended file), read only
 * where it resolves inside the project's directory: what it holds may end up in the app directory,
 * which is published, so a compose file from elsewhere cannot make it take the developer's keys.
 */
function readInside(projectDir: string, path: string): FileRead {
  let root: string;
  let resolved: string;
  try {
    root = realpathSync(projectDir);
    resolved = realpathSync(path);
  } catch (error) {
    return {
      ok: false,
      missing: (error as NodeJS.ErrnoException).code === "ENOENT",
      message: fileProblem(error, path),
    };
  }
  const inside = relative(root, resolved);
  if (inside.startsWith("..") || isAbsolute(inside))
    return {
      ok: false,
      missing: false,
      message: `it resolves to ${resolved}, outside the project's directory ${root}: an import reads only the project's own files (copy the file into the project)`,
    };
  return readBounded(resolved);
}

export async function importCompose(options: ImportOptions): Promise<ImportResult> {
  const cwd = options.cwd ?? process.cwd();
  const files = options.files.map((f) => resolve(cwd, f));
  const display = (path: string) => {
    const rel = relative(cwd, path);
    return rel.startsWith("..") ? path : rel;
  };
  const main = files[0] as string;
  const error = (message: string, action: string, file = display(main)): ImportResult => ({
    ok: false,
    lines: [{ level: "error", file, line: 0, column: 0, subject: "(file)", message, action }],
    issues: [],
    files: [],
  });

  const first = readBounded(main);
  if (!first.ok)
    return error(
      `cannot read ${display(main)}: ${first.message}`,
      "pass a docker-compose file that exists and can be read",
    );
  const appId = options.id ?? appIdFrom(peekName(first.text) ?? basename(dirname(main)));

  const envPath = options.envFile ? resolve(cwd, options.envFile) : join(dirname(main), ".env");
  const dotenv = new Map<string, string>();
  const envRead = readBounded(envPath);
  if (envRead.ok) {
    const parsed = parseEnvFile(envRead.text, importLookup(appId, new Map()));
    if (parsed.problems.length > 0)
      return {
        ok: false,
        issues: [],
        files: [],
        lines: parsed.problems.map((p) => ({
          level: "error" as const,
          file: display(envPath),
          line: p.line,
          column: 1,
          subject: "(env file)",
          message: p.message,
          action: "write NAME=value lines",
        })),
      };
    for (const entry of parsed.entries) dotenv.set(entry.name, entry.value);
  } else if (options.envFile || !envRead.missing)
    return error(
      `cannot read the env file ${display(envPath)}: ${envRead.message}`,
      "pass an env file that exists and can be read",
      display(envPath),
    );

  const loaded = loadProject({
    files,
    profiles: options.profiles ?? [],
    lookup: importLookup(appId, dotenv),
    read: (path) =>
      path === main ? first : files.includes(path) ? readBounded(path) : readInside(dirname(main), path),
    display,
  });
  if (!loaded.ok) return { ok: false, appId, lines: loaded.lines.sort(compareLines), issues: [], files: [] };
  if (loaded.project.services.length === 0)
    return error(
      "the project has no service to import (every service is in a profile that is not active)",
      "import with --profile NAME",
    );

  const { manifest, files: dataFiles, lines, metadata } = convertProject(loaded.project, appId);
  const target = resolve(cwd, options.out ?? appId);
  const text = manifestText(manifest, schemaReference(target, options.schema), display(main));
  const validated = parseManifest(text, join(display(target), "manifest.yml"));
  const issues = validated.ok ? [] : validated.issues;
  const values = {
    id: appId,
    name: manifest.name,
    source: basename(main),
    description: metadata.description ?? manifest.description,
  };
  const readme = fillTemplate(await readFile(join(TEMPLATE_DIR, "README.md"), "utf8"), values);
  const appFiles: AppFile[] = [
    { path: "manifest.yml", content: text },
    { path: "IMPORT.md", content: reportMarkdown(display(main), lines) },
    { path: "README.md", content: readme.ok ? readme.text : "" },
    ...dataFiles,
  ];
  if (manifest.icon === "icon.svg") {
    const icon = fillTemplate(await readFile(join(TEMPLATE_DIR, "icon.svg"), "utf8"), {
      name: manifest.name.replace(/[<>&"]/g, ""),
      initials: initialsOf(manifest.name).replace(/[<>&"]/g, ""),
    });
    if (icon.ok) appFiles.push({ path: "icon.svg", content: icon.text });
  }
  return { ok: issues.length === 0, appId, lines, issues, files: appFiles, target };
}

/** The project's name (or CasaOS's title) before anything is interpolated: the app id comes from it. */
function peekName(text: string): string | undefined {
  try {
    const data = parseYaml(text, { maxAliasCount: 100 }) as Record<string, unknown> | null;
    const name = data?.name;
    return typeof name === "string" && !name.includes("$") ? name : undefined;
  } catch {
    return undefined;
  }
}

const FLOW_LISTS = new Set(["capabilities", "tmpfs", "aliases", "entrypoint"]);
const FLOW_ITEMS = new Set(["ports", "volumes", "devices"]);

/** The manifest as YAML: the `$schema` line, where it came from, then the fields. */
export function manifestText(manifest: ManifestData, schema: string, source: string): string {
  const doc = new Document(manifest);
  // Short lists and small mappings on one line, as the manifest guide writes them.
  visit(doc, {
    Pair(_, pair) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      const value = pair.value;
      if (isSeq(value) && FLOW_LISTS.has(key) && value.items.every(isScalar)) value.flow = true;
      if (isSeq(value) && FLOW_ITEMS.has(key))
        for (const item of value.items) if (isMap(item)) item.flow = true;
      if (
        isMap(value) &&
        value.items.length === 1 &&
        isPair(value.items[0]) &&
        String((value.items[0].key as { value?: unknown }).value) === "secret"
      )
        value.flow = true;
    },
  });
  const body = doc.toString({ lineWidth: 0, indentSeq: true, flowCollectionPadding: false });
  return `${schemaLine(schema)}\n# Imported from ${source} by \`archy app import\`: IMPORT.md says what to check.\n${body}`;
}
