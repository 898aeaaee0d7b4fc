/** `archy sources …`: the signed catalogs the node installs apps from (docs/catalog.md). */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Result } from "../../api/contract.ts";
import { runSubcommand, UsageError } from "../args.ts";
import { CliError } from "../client.ts";
import type { SubcommandName } from "../commands.ts";
import {
  ago,
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  noArguments,
  operator,
  parseOperator,
  printJson,
  table,
} from "../operator.ts";

const USAGE = `Usage: archy sources <command> [--url URL] [--token-file FILE]

  ls [--json]                     the catalog sources, how their last refresh went, and why not
  refresh [NAME] [--json]         refresh every source now (or the one named), then list them
  add NAME URL --root FILE        add a signed catalog: URL is where it is published (http(s) or a
                                  directory on the node), FILE its root.json, obtained from the
                                  publisher out of band; kept only once it verifies under that root
  remove NAME                     remove a source added with \`add\` (one from the configuration
                                  file is removed there); refused while installed apps come from it

${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

type SourceStatus = Result<"catalog.sources">[number];

const SUBCOMMANDS: Record<SubcommandName<"sources">, (argv: string[]) => Promise<number>> = {
  ls,
  refresh,
  add,
  remove,
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("sources", SUBCOMMANDS, argv, USAGE);
}

function parse(argv: string[]) {
  return parseOperator(argv, { json: { type: "boolean" }, root: { type: "string" } }, USAGE);
}

function print(list: SourceStatus[], json: unknown): void {
  if (json) {
    printJson(list);
    return;
  }
  if (list.length === 0) {
    console.log("no catalog sources: add one with archy sources add NAME URL --root root.json");
    return;
  }
  console.log(
    table(
      ["SOURCE", "STATE", "APPS", "REFRESHED", "URL"],
      list.map((s) => [s.name, s.state, String(s.apps), ago(s.lastAttemptAt), s.url]),
    ),
  );
  for (const s of list) {
    if (s.error) console.log(`${s.name}: ${s.error.message}\n  fix: ${s.error.fix}`);
    for (const role of s.failedRoles) console.log(`${s.name}: ${role.role} hidden: ${role.message}`);
  }
}

async function ls(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    noArguments(positionals, USAGE);
    print(await clientFor(values).call("catalog.sources"), values.json);
    return 0;
  });
}

async function refresh(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`give at most one source name\n\n${USAGE}`);
  return operator(async () => {
    const name = positionals[0];
    const list = await clientFor(values).call("catalog.refresh", name ? { name } : {}, {
      timeoutMs: 600_000,
    });
    print(list, values.json);
    return list.some((s) => s.state === "failing" && (!name || s.name === name)) ? 1 : 0;
  });
}

/** The root.json the operator pins, as text (the daemon parses and verifies it). */
async function rootText(file: string): Promise<string> {
  try {
    return await readFile(resolve(file), "utf8");
  } catch (error) {
    throw new CliError(
      `--root ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`,
      {
        hint: "give the catalog's root.json, as its publisher distributes it (e.g. metadata/1.root.json of the published tree)",
      },
    );
  }
}

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError(`give a NAME and a URL\n\n${USAGE}`);
  if (typeof values.root !== "string")
    throw new UsageError(`--root FILE is required: the root.json to trust\n\n${USAGE}`);
  const [name, url] = positionals as [string, string];
  const root = values.root;
  return operator(async () => {
    const list = await clientFor(values).call(
      "catalog.sources.add",
      { name, url, root: await rootText(root) },
      { timeoutMs: 600_000 },
    );
    const added = list.find((s) => s.name === name);
    console.log(
      `added ${name}: ${added ? `${added.apps} app${added.apps === 1 ? "" : "s"}, verified under the given root` : "verified"}`,
    );
    return 0;
  });
}

async function remove(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give one source name\n\n${USAGE}`);
  const name = positionals[0] as string;
  return operator(async () => {
    await clientFor(values).call("catalog.sources.remove", { name });
    console.log(`removed ${name}: its apps are no longer offered`);
    return 0;
  });
}
