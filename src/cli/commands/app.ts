/** `archy app validate|render`: the app developer's tools. */
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { checkAppSet } from "../../manifest/app-set.ts";
import { formatIssue, formatPath, type ManifestIssue } from "../../manifest/issues.ts";
import { type LoadedManifest, loadManifest, MANIFEST_FILE_NAMES } from "../../manifest/load.ts";
import type { Manifest } from "../../manifest/schema.ts";
import {
  RENDER_TARGETS,
  RenderError,
  type RenderedFile,
  type RenderTarget,
  render,
} from "../../render/index.ts";
import { parseCommandLine, UsageError } from "../args.ts";

const USAGE = `Usage:
  archy app validate PATH... [--json]
      Validate manifests (a manifest.yml, an app directory, or a directory of app directories).
      Exit 0 when all are valid, 1 otherwise.
  archy app render PATH --target quadlet|podman|kube [--out DIR] [--data-root DIR] [--with PATH]...
      Render an app for a backend. Without --out, files are printed to standard output.
      Dependencies whose exports the app consumes are looked up beside it, or given with --with.`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "validate") return validate(rest);
  if (sub === "render") return renderCommand(rest);
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown subcommand 'app ${sub}'\n\n${USAGE}`);
}

function printUsage(): number {
  console.log(USAGE);
  return 0;
}

/** Expands a directory of app directories (such as `apps/`) into the app directories it holds. */
async function expandPaths(paths: string[]): Promise<string[]> {
  const expanded: string[] = [];
  for (const path of paths) {
    const isDir = await stat(path).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir || (await hasManifest(path))) {
      expanded.push(path);
      continue;
    }
    const children = (await readdir(path, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => join(path, e.name));
    const apps = [];
    for (const child of children.sort()) if (await hasManifest(child)) apps.push(child);
    expanded.push(...(apps.length > 0 ? apps : [path]));
  }
  return expanded;
}

async function hasManifest(dir: string): Promise<boolean> {
  for (const name of MANIFEST_FILE_NAMES)
    if (
      await stat(join(dir, name)).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return true;
  return false;
}

async function validate(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) return printUsage();
  if (positionals.length === 0) throw new UsageError(`app validate needs at least one PATH\n\n${USAGE}`);
  const loaded = await Promise.all((await expandPaths(positionals)).map((path) => loadManifest(path)));
  const issuesByFile = new Map<string, ManifestIssue[]>(loaded.map((l) => [l.file, l.ok ? [] : l.issues]));
  for (const finding of checkAppSet(
    loaded.flatMap((l) => (l.ok ? [{ manifest: l.manifest, file: l.file }] : [])),
  )) {
    const member = loaded.find((l) => l.file === finding.file);
    const position = member?.ok ? member.locate(finding.path) : { line: 0, column: 0 };
    issuesByFile.get(finding.file)?.push({
      file: displayFile(member),
      ...position,
      path: formatPath(finding.path),
      message: finding.message,
      fix: finding.fix,
      rule: finding.rule,
    });
  }
  const report = loaded.map((l) => ({
    file: displayFile(l),
    id: l.ok ? l.manifest.id : undefined,
    valid: (issuesByFile.get(l.file) ?? []).length === 0,
    issues: issuesByFile.get(l.file) ?? [],
  }));
  const valid = report.every((r) => r.valid);
  if (values.json) {
    console.log(JSON.stringify({ valid, apps: report }, null, 2));
  } else {
    for (const entry of report) {
      if (entry.valid) console.log(`ok    ${entry.file} (${entry.id})`);
      else {
        console.error(
          `error ${entry.file}: ${entry.issues.length} problem${entry.issues.length === 1 ? "" : "s"}`,
        );
        for (const issue of entry.issues) console.error(`  ${formatIssue(issue)}`);
      }
    }
    const bad = report.filter((r) => !r.valid).length;
    console.log(`${report.length - bad} valid, ${bad} invalid`);
  }
  return valid ? 0 : 1;
}

function displayFile(loaded: LoadedManifest | undefined): string {
  if (!loaded) return "?";
  return loaded.ok ? resolveDisplay(loaded.file) : (loaded.issues[0]?.file ?? loaded.file);
}

function resolveDisplay(file: string): string {
  const cwd = process.cwd();
  return file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file;
}

async function renderCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      target: { type: "string", short: "t" },
      out: { type: "string", short: "o" },
      "data-root": { type: "string" },
      with: { type: "string", multiple: true },
    },
    USAGE,
  );
  if (values.help) return printUsage();
  if (positionals.length !== 1) throw new UsageError(`app render needs exactly one PATH\n\n${USAGE}`);
  const target = values.target as RenderTarget | undefined;
  if (!target || !RENDER_TARGETS.includes(target))
    throw new UsageError(
      `--target must be one of ${RENDER_TARGETS.join(", ")}${values.target ? ` (got '${values.target}')` : ""}`,
    );

  const app = await loadManifest(positionals[0] as string);
  if (!app.ok) {
    for (const issue of app.issues) console.error(formatIssue(issue));
    console.error("archy: the manifest is invalid; nothing was rendered");
    return 1;
  }
  const dependencies = await loadDependencies(app.manifest, dirname(app.dir), values.with ?? []);
  if (typeof dependencies === "string") {
    console.error(`archy: ${dependencies}`);
    return 1;
  }
  const dataRoot = resolve(values["data-root"] ?? join(homedir(), ".local/share/archipelago"));
  let files: RenderedFile[];
  try {
    files = render(app.manifest, target, { dataRoot, dependencies });
  } catch (error) {
    if (!(error instanceof RenderError)) throw error;
    console.error(`archy: cannot render ${app.manifest.id} for ${target}: ${error.message}`);
    return 1;
  }
  if (values.out) {
    const out = resolve(values.out);
    for (const file of files) {
      const path = join(out, file.path);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content);
    }
    console.log(`rendered ${files.length} file${files.length === 1 ? "" : "s"} for ${target} into ${out}`);
    for (const file of files) console.log(`  ${file.path}`);
  } else {
    for (const file of files) process.stdout.write(`# ---- ${file.path} ----\n${file.content}`);
  }
  return 0;
}

/** Finds the manifests of the apps this one depends on: given with --with, or beside the app. */
async function loadDependencies(
  manifest: Manifest,
  siblingsDir: string,
  extra: string[],
): Promise<Record<string, Manifest> | string> {
  const wanted = new Set(manifest.dependencies.map((d) => d.id));
  const found: Record<string, Manifest> = {};
  const candidates = [...extra];
  if (wanted.size > 0) {
    const entries = await readdir(siblingsDir, { withFileTypes: true }).catch(() => []);
    candidates.push(...entries.filter((e) => e.isDirectory()).map((e) => join(siblingsDir, e.name)));
  }
  for (const path of candidates) {
    if (
      !(await hasManifest(path)) &&
      !(await stat(path).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      continue;
    const loaded = await loadManifest(path);
    if (loaded.ok && wanted.has(loaded.manifest.id)) found[loaded.manifest.id] = loaded.manifest;
    else if (!loaded.ok && extra.includes(path))
      return `dependency manifest ${path} is invalid: ${loaded.issues[0]?.message ?? ""}`;
  }
  return found;
}
