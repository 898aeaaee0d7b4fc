/**
 * `archy app validate|render`: the app developer's tools; `new`, `import` and `schema` live in
 * app-devkit.ts.
 */
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { accessWarnings } from "../../manifest/access.ts";
import { checkAppSet, type SetMember } from "../../manifest/app-set.ts";
import { iconWarnings } from "../../manifest/icon.ts";
import { githubAnnotations, sarifLog } from "../../manifest/issue-formats.ts";
import {
  compareIssues,
  type Finding,
  formatIssue,
  formatPath,
  type ManifestIssue,
} from "../../manifest/issues.ts";
import { SCHEMA_ID } from "../../manifest/json-schema.ts";
import { type LoadedManifest, loadManifest, MANIFEST_FILE_NAMES } from "../../manifest/load.ts";
import type { Manifest } from "../../manifest/schema.ts";
import {
  RENDER_TARGETS,
  RenderError,
  type RenderedFile,
  type RenderTarget,
  renderWithWarnings,
} from "../../render/index.ts";
import { CODE_ROOT } from "../../system/code-root.ts";
import { parseCommandLine, runSubcommand, UsageError } from "../args.ts";
import type { SubcommandName } from "../commands.ts";

const USAGE = `Usage:
  archy app new ID [--template web|stack|worker] [--out DIR] [--name NAME] [--port N] [--schema REF]
      Create an app directory that validates and installs as it is (see --template).
  archy app import COMPOSE.yml [MORE.yml]... [--out DIR] [--id ID] [--profile NAME]... [--env-file FILE] [--schema REF] [--json]
      Convert a docker-compose project into an app directory, with IMPORT.md: what to check.
  archy app schema
      Print the manifest's JSON Schema (for editors: archy app schema > manifest-v1.json).
  archy app validate PATH... [--format text|json|github|sarif] [--json]
      Validate manifests (a manifest.yml, an app directory, or a directory of app directories).
      --format github prints GitHub Actions annotations, sarif a SARIF 2.1.0 log; --json = --format json.
      Exit 0 when all are valid, 1 otherwise.
  archy app render PATH --target quadlet|podman|kube [--out DIR] [--data-root DIR] [--with PATH]...
      Render an app for a backend. Without --out, files are printed to standard output.
      Dependencies whose exports the app consumes are looked up beside it, or given with --with.
  archy app publish DIR --relay URL... (--bundle-url URL... | --bundle-dir DIR --public-url URL)
                    [--key FILE] [--notes TEXT] [--allow-unpinned] [--json]
      Sign and publish a release to the Nostr marketplace (archy app publish --help).
  archy app test DIR [--watch] [--json] [--user NAME] [--timeout-scale X]
      The production gate on one app directory, with a sandboxed daemon: each lifecycle step
      verified through Podman, the app's logs for a failure; --watch runs it again on change
      (archy app test --help). Exit 0 only when every step passes.`;

const devkit =
  (sub: "new" | "import" | "schema") =>
  async (argv: string[]): Promise<number> =>
    (await import("./app-devkit.ts")).run(sub, argv, USAGE);

const SUBCOMMANDS: Record<SubcommandName<"app">, (argv: string[]) => Promise<number>> = {
  new: devkit("new"),
  import: devkit("import"),
  schema: devkit("schema"),
  validate,
  render: renderCommand,
  publish: async (argv) => (await import("./publish.ts")).run(argv),
  test: async (argv) => (await import("./app-test.ts")).run(argv),
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("app", SUBCOMMANDS, argv, USAGE);
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
    // A directory that cannot be listed is validated as it is: its one issue says why.
    const listed = await readdir(path, { withFileTypes: true }).catch(() => undefined);
    if (!listed) {
      expanded.push(path);
      continue;
    }
    const children = listed.filter((e) => e.isDirectory()).map((e) => join(path, e.name));
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

/**
 * How many manifests are read and parsed at once: all at once, thousands of paths would hold
 * thousands of reads and documents in memory together (5,000 took 1 GB).
 */
const LOAD_CONCURRENCY = 16;

/** The manifests at `paths`, in the same order, read a few at a time. */
async function loadAll(paths: string[]): Promise<LoadedManifest[]> {
  const loaded: LoadedManifest[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < paths.length; i = next++) loaded[i] = await loadManifest(paths[i] as string);
  };
  await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, paths.length) }, worker));
  return loaded;
}

async function validate(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    { json: { type: "boolean" }, format: { type: "string" } },
    USAGE,
  );
  if (values.help) return printUsage();
  if (positionals.length === 0) throw new UsageError(`app validate needs at least one PATH\n\n${USAGE}`);
  const format = values.format ?? (values.json ? "json" : "text");
  if (!VALIDATE_FORMATS.includes(format as ValidateFormat) || (values.json && format !== "json"))
    throw new UsageError(
      `--format must be one of ${VALIDATE_FORMATS.join(", ")}${values.format ? ` (got '${values.format}'${values.json ? " with --json" : ""})` : ""}`,
    );
  const loaded = await loadAll(await expandPaths(positionals));
  const issuesByFile = new Map<string, ManifestIssue[]>(loaded.map((l) => [l.file, l.ok ? [] : l.issues]));
  const notesByFile = new Map<string, ManifestIssue[]>(loaded.map((l) => [l.file, []]));
  const valid = loaded.filter((l): l is Loaded => l.ok);
  const place = (member: Loaded, finding: Finding): ManifestIssue => ({
    file: displayFile(member),
    ...member.locate(finding.path, finding.at),
    path: formatPath(finding.path),
    message: finding.message,
    fix: finding.fix,
    rule: finding.rule,
  });
  const { beside, notes } = await dependenciesBeside(valid);
  for (const [member, note] of notes) notesByFile.get(member.file)?.push(place(member, note));
  for (const finding of checkAppSet([
    ...valid.map((l) => ({ manifest: l.manifest, file: l.file })),
    ...beside,
  ])) {
    const member = valid.find((l) => l.file === finding.file);
    if (member) issuesByFile.get(finding.file)?.push(place(member, finding));
  }
  const report = loaded.map((l) => ({
    file: displayFile(l),
    id: l.ok ? l.manifest.id : undefined,
    valid: (issuesByFile.get(l.file) ?? []).length === 0,
    issues: (issuesByFile.get(l.file) ?? []).sort(compareIssues),
    notes: notesByFile.get(l.file) ?? [],
    // Valid, but the operator is told too (docs/app-access.md): an interface published beyond the node;
    // an icon the node never fetches.
    warnings: l.ok
      ? [...accessWarnings(l.manifest), ...iconWarnings(l.manifest)].map((warning) => place(l, warning))
      : [],
  }));
  const allValid = report.every((r) => r.valid);
  if (format === "json") {
    console.log(JSON.stringify({ valid: allValid, apps: report }, null, 2));
  } else if (format === "github") {
    for (const line of githubAnnotations(report)) console.log(line);
    const bad = report.filter((r) => !r.valid).length;
    console.log(`${report.length - bad} valid, ${bad} invalid`);
  } else if (format === "sarif") {
    console.log(JSON.stringify(sarifLog(report, await toolInfo()), null, 2));
  } else {
    for (const entry of report) {
      const print = entry.valid ? console.log : console.error;
      if (entry.valid) print(`ok    ${entry.file} (${entry.id})`);
      else {
        print(`error ${entry.file}: ${entry.issues.length} problem${entry.issues.length === 1 ? "" : "s"}`);
        for (const issue of entry.issues) print(`  ${formatIssue(issue)}`);
      }
      for (const warning of entry.warnings) print(`  warning ${formatIssue(warning)}`);
      for (const note of entry.notes) print(`  note ${formatIssue(note)}`);
    }
    const bad = report.filter((r) => !r.valid).length;
    console.log(`${report.length - bad} valid, ${bad} invalid`);
  }
  return allValid ? 0 : 1;
}

type Loaded = Extract<LoadedManifest, { ok: true }>;

const VALIDATE_FORMATS = ["text", "json", "github", "sarif"] as const;
type ValidateFormat = (typeof VALIDATE_FORMATS)[number];

/** The version and home of the tool, for SARIF's driver. */
async function toolInfo(): Promise<{ version: string; informationUri: string }> {
  const manifest = JSON.parse(await readFile(join(CODE_ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  return { version: manifest.version, informationUri: SCHEMA_ID.replace(/\/schema\/.*$/, "/") };
}

/**
 * The dependencies of the apps being validated that are not among them, looked up beside each app
 * as `app render` does: what an app uses of them (versions, exports) is then checked too. They are
 * context only, without their own dependencies; one not found is a note, for it may come from a
 * catalog.
 */
async function dependenciesBeside(
  apps: Loaded[],
): Promise<{ beside: SetMember[]; notes: Array<[Loaded, Finding]> }> {
  const ids = new Set(apps.map((l) => l.manifest.id));
  const beside = new Map<string, SetMember>();
  const notes: Array<[Loaded, Finding]> = [];
  for (const app of apps) {
    const outside = app.manifest.dependencies.filter((d) => !ids.has(d.id));
    if (outside.length === 0) continue;
    const loaded = await loadDependencies(app.manifest, dirname(app.dir), []);
    for (const dependency of outside) {
      const other = typeof loaded === "string" ? undefined : loaded.found[dependency.id];
      const invalid = typeof loaded === "string" ? undefined : loaded.invalid[dependency.id];
      const path = ["dependencies", app.manifest.dependencies.indexOf(dependency), "id"];
      if (other) beside.set(dependency.id, { ...other, manifest: { ...other.manifest, dependencies: [] } });
      else if (invalid)
        notes.push([
          app,
          {
            path,
            message: `dependency ${dependency.id} beside this app (${displayFile(invalid)}) is invalid (${invalidSummary(invalid)}): its version and the exports used were not checked`,
            fix: `archy app validate ${displayPath(invalid.dir)} lists what to fix in it`,
            rule: "set.dependency-invalid",
          },
        ]);
      else
        notes.push([
          app,
          {
            path,
            message: `dependency ${dependency.id} was not found beside this app (in ${displayPath(dirname(app.dir))}): its version and the exports used were not checked`,
            fix: `if it is not installed from a catalog, validate it together with this app: archy app validate ${displayFile(app)} <directory of ${dependency.id}>`,
            rule: "set.dependency-not-found",
          },
        ]);
    }
  }
  return { beside: [...beside.values()], notes };
}

function displayFile(loaded: LoadedManifest): string {
  return loaded.ok ? resolveDisplay(loaded.file) : (loaded.issues[0]?.file ?? loaded.file);
}

/** A path as the user sees it: relative to the working directory when inside it. */
function displayPath(path: string): string {
  return path === process.cwd() ? "." : resolveDisplay(path);
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
  const loaded = await loadDependencies(app.manifest, dirname(app.dir), values.with ?? []);
  if (typeof loaded === "string") {
    console.error(`archy: ${loaded}`);
    return 1;
  }
  for (const [id, invalid] of Object.entries(loaded.invalid))
    if (!loaded.found[id])
      console.error(
        `archy: warning: dependency ${id} beside this app (${displayFile(invalid)}) is invalid (${invalidSummary(invalid)}): fix it, or name a valid one with --with`,
      );
  const dependencies = Object.fromEntries(Object.entries(loaded.found).map(([id, d]) => [id, d.manifest]));
  const dataRoot = resolve(values["data-root"] ?? join(homedir(), ".local/share/archipelago"));
  let files: RenderedFile[];
  try {
    const rendered = renderWithWarnings(app.manifest, target, {
      dataRoot,
      dependencies,
      envFiles: app.envFiles,
    });
    files = rendered.files;
    for (const w of rendered.warnings)
      console.error(`archy: warning: ${app.manifest.id}: ${w.field}: ${w.message}`);
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

type InvalidManifest = Extract<LoadedManifest, { ok: false }>;

/** The first problem of an invalid manifest and how many more there are, for a one-line mention. */
function invalidSummary(invalid: InvalidManifest): string {
  const [first] = invalid.issues;
  const more = invalid.issues.length - 1;
  return `${first ? `${first.path}: ${first.message}` : "unreadable"}${more > 0 ? `, and ${more} more` : ""}`;
}

/**
 * The app id an invalid manifest was meant to declare: its `id` when that much can be read, else its
 * directory's name (apps live in directories named after them).
 */
function intendedId(invalid: InvalidManifest): string {
  try {
    const id = (parseYaml(invalid.text) as { id?: unknown } | null)?.id;
    if (typeof id === "string") return id;
  } catch {}
  return basename(invalid.dir);
}

/**
 * Finds the manifests of the apps this one depends on: given with --with, or beside the app. A
 * manifest beside it meant as one of them but invalid is returned apart (`invalid`), so that the
 * dependency is said to be invalid, not missing.
 */
export async function loadDependencies(
  manifest: Manifest,
  siblingsDir: string,
  extra: string[],
): Promise<{ found: Record<string, SetMember>; invalid: Record<string, InvalidManifest> } | string> {
  const wanted = new Set(manifest.dependencies.map((d) => d.id));
  const found: Record<string, SetMember> = {};
  const invalid: Record<string, InvalidManifest> = {};
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
    if (loaded.ok && wanted.has(loaded.manifest.id))
      found[loaded.manifest.id] = { manifest: loaded.manifest, file: loaded.file };
    else if (!loaded.ok && extra.includes(path))
      return `dependency manifest ${path} is invalid: ${loaded.issues[0]?.message ?? ""}`;
    else if (!loaded.ok && wanted.has(intendedId(loaded))) invalid[intendedId(loaded)] = loaded;
  }
  return { found, invalid };
}
