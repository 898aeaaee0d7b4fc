/**
 * `archy app new|import|schema`: how a developer starts an app, from a template or from a
 * docker-compose file, and the JSON Schema their editor completes manifests with.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { importCompose } from "../../compose/import.ts";
import { compareLines, countByLevel, formatLine } from "../../compose/report.ts";
import { formatIssue } from "../../manifest/issues.ts";
import { manifestJsonSchemaText } from "../../manifest/json-schema.ts";
import { loadManifest } from "../../manifest/load.ts";
import { APP_ID } from "../../manifest/schema.ts";
import { fillTemplate, initialsOf, titleOf } from "../../scaffold/fill.ts";
import { schemaReference } from "../../scaffold/schema-ref.ts";
import { type AppFile, TargetError, writeAppDirectory } from "../../scaffold/write-app.ts";
import { CODE_ROOT } from "../../system/code-root.ts";
import { parseCommandLine, UsageError } from "../args.ts";

const TEMPLATES = join(CODE_ROOT, "templates/apps");

export async function run(sub: "new" | "import" | "schema", argv: string[], usage: string): Promise<number> {
  if (sub === "schema") {
    const { values, positionals } = parseCommandLine(argv, {}, usage);
    if (values.help) return help(usage);
    if (positionals.length > 0) throw new UsageError(`app schema takes no argument\n\n${usage}`);
    process.stdout.write(manifestJsonSchemaText());
    return 0;
  }
  return sub === "new" ? newApp(argv, usage) : importApp(argv, usage);
}

function help(usage: string): number {
  console.log(usage);
  return 0;
}

/** The templates there are: the directories under templates/apps. */
async function templateNames(): Promise<string[]> {
  return (await readdir(TEMPLATES, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Every file of a template directory, relative to it. */
async function templateFiles(dir: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await templateFiles(dir, path)));
    else files.push(path);
  }
  return files;
}

/** A host port for a new app, the same for the same id: few clashes between a developer's apps. */
function defaultPort(id: string): number {
  let hash = 2166136261;
  for (const c of id) hash = Math.imul(hash ^ (c.codePointAt(0) as number), 16777619) >>> 0;
  return 20000 + (hash % 10000);
}

async function newApp(argv: string[], usage: string): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      template: { type: "string", short: "t" },
      out: { type: "string", short: "o" },
      name: { type: "string" },
      port: { type: "string" },
      schema: { type: "string" },
    },
    usage,
  );
  if (values.help) return help(usage);
  if (positionals.length !== 1) throw new UsageError(`app new needs exactly one ID\n\n${usage}`);
  const id = positionals[0] as string;
  if (!APP_ID.test(id))
    throw new UsageError(
      `'${id}' is not an app id: lower-case letters, digits and '-', starting with a letter (at most 40), optionally namespaced as publisher.app (alice.relay)`,
    );
  const names = await templateNames();
  const template = values.template ?? "web";
  if (!names.includes(template))
    throw new UsageError(`--template must be one of ${names.join(", ")} (got '${template}')`);
  const name = values.name ?? titleOf(id);
  if (!/^[\p{L}\p{N}][\p{L}\p{N} ._'&()+-]{0,79}$/u.test(name))
    throw new UsageError(`--name '${name}' must be 1 to 80 letters, digits, spaces and . _ ' & ( ) + -`);
  const port = values.port === undefined ? defaultPort(id) : Number(values.port);
  if (!Number.isInteger(port) || port < 1024 || port > 65535)
    throw new UsageError(
      `--port must be a port from 1024 to 65535 (got '${values.port}'); a lower one needs a low-port permission`,
    );

  const target = resolve(values.out ?? id);
  const placeholders = {
    id,
    name,
    port: String(port),
    initials: initialsOf(name),
    schema: schemaReference(target, values.schema),
  };
  const dir = join(TEMPLATES, template);
  const files: AppFile[] = [];
  let publishes = false;
  for (const path of await templateFiles(dir)) {
    const text = await readFile(join(dir, path), "utf8");
    if (path === "manifest.yml" && text.includes("{{port}}")) publishes = true;
    const filled = fillTemplate(text, placeholders);
    if (!filled.ok)
      throw new Error(`template ${template}: ${path} has unknown placeholders ${filled.missing.join(", ")}`);
    files.push({ path, content: filled.text });
  }
  const shown = relative(process.cwd(), target) || ".";
  try {
    await writeAppDirectory(target, files);
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    console.error(`archy: ${error.message}`);
    return 1;
  }
  const loaded = await loadManifest(target);
  if (!loaded.ok) {
    for (const issue of loaded.issues) console.error(formatIssue(issue));
    console.error(
      `archy: the app made from the template ${template} does not validate: this is a bug of the template`,
    );
    return 1;
  }
  console.log(`created ${shown}/ from the template ${template}: ${files.map((f) => f.path).join(", ")}`);
  if (publishes) console.log(`  app ${id}, web page on port ${port} of the node (--port to choose another)`);
  console.log("next:");
  console.log(`  archy app validate ${shown}`);
  console.log(`  archy app render ${shown} --target quadlet`);
  console.log(
    `  archy daemon --apps-dir ${relative(process.cwd(), resolve(target, "..")) || "."}   # then: archy install ${id}`,
  );
  return 0;
}

async function importApp(argv: string[], usage: string): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      out: { type: "string", short: "o" },
      id: { type: "string" },
      profile: { type: "string", multiple: true },
      "env-file": { type: "string" },
      schema: { type: "string" },
      json: { type: "boolean" },
    },
    usage,
  );
  if (values.help) return help(usage);
  if (positionals.length === 0) throw new UsageError(`app import needs a compose file\n\n${usage}`);
  if (values.id !== undefined && !APP_ID.test(values.id))
    throw new UsageError(
      `--id '${values.id}' is not an app id: lower-case letters, digits and '-', starting with a letter`,
    );
  const result = await importCompose({
    files: positionals,
    id: values.id,
    profiles: values.profile ?? [],
    envFile: values["env-file"],
    out: values.out,
    schema: values.schema,
  });
  const lines = [...result.lines].sort(compareLines);
  const counts = countByLevel(lines);
  let written = false;
  let writeError: string | undefined;
  // A compose file that converted into an app is written even when the validator still finds a
  // problem: the developer fixes it there, with the report.
  if (result.target && result.files.length > 0)
    try {
      await writeAppDirectory(result.target, result.files);
      written = true;
    } catch (error) {
      if (!(error instanceof TargetError)) throw error;
      writeError = error.message;
    }
  const target = result.target ? relative(process.cwd(), result.target) || "." : undefined;
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          ok: result.ok && written,
          appId: result.appId,
          directory: written ? target : undefined,
          counts,
          lines,
          issues: result.issues,
        },
        null,
        2,
      ),
    );
  } else {
    for (const line of lines.filter((l) => l.level !== "info")) console.error(formatLine(line));
    for (const issue of result.issues) console.error(formatIssue(issue));
    if (written)
      console.log(
        `${result.ok ? "imported" : "imported, but the manifest does not validate yet:"} ${target}/ (app ${result.appId}): ${counts.decide} to decide, ${counts.review} to review, ${counts.info} carried over in another form (IMPORT.md lists them all)`,
      );
  }
  if (writeError) console.error(`archy: ${writeError}`);
  if (!written && !writeError && !values.json) console.error("archy: nothing was imported");
  return result.ok && written ? 0 : 1;
}
