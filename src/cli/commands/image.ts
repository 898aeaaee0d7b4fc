/** `archy image export|import`: an app's images and bundle in one archive, for nodes without registry access (docs/images.md). */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { runSubcommand, UsageError } from "../args.ts";
import { CliError } from "../client.ts";
import type { SubcommandName } from "../commands.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  oneApp,
  operator,
  parseOperator,
  printJson,
} from "../operator.ts";
import { transfer } from "../transfer.ts";

const USAGE = `Usage: archy image <command> [--url URL] [--token-file FILE]

  export APP > APP.tar   write APP's archive to stdout: every image of the installed app by its
                         pinned digest (copied from its registry) and the app's bundle, as one
                         OCI archive
  import FILE [--json]   verify an archive made by export and import it: its images into
                         Podman's store, the app into the daemon's apps directory; then
                         archy install APP (no registry needed)

${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

type Imported = { id: string; version: string; images: string[]; loaded: string[]; dir: string };

const SUBCOMMANDS: Record<SubcommandName<"image">, (argv: string[]) => Promise<number>> = {
  export: exportArchive,
  import: importArchive,
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("image", SUBCOMMANDS, argv, USAGE);
}

function parse(argv: string[]) {
  return parseOperator(argv, { json: { type: "boolean" } }, USAGE);
}

/** The daemon's JSON refusal (`{error}`), or its status when it sent none. */
function refusal(status: number, text: string): CliError {
  try {
    const { error } = JSON.parse(text) as { error?: unknown };
    if (typeof error === "string") return new CliError(error);
  } catch {}
  return new CliError(`the daemon answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`);
}

async function exportArchive(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    const app = oneApp(positionals, USAGE);
    if (process.stdout.isTTY)
      throw new UsageError(
        `the archive goes to stdout: redirect it to a file (archy image export ${app} > ${app}.tar)`,
      );
    const client = clientFor(values);
    const url = new URL(`${client.url}/images/v1/export`);
    url.searchParams.set("app", app);
    const answer = await transfer(url, { method: "GET", token: await client.token(), out: process.stdout });
    if (answer.status !== 200) throw refusal(answer.status, answer.text);
    process.stderr.write(`exported ${app}\n`);
    return 0;
  });
}

async function importArchive(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    if (positionals.length !== 1) throw new UsageError(`give one archive file\n\n${USAGE}`);
    const file = positionals[0] as string;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile())
      throw new UsageError(`${file} is not a file: give the archive archy image export wrote`);
    const client = clientFor(values);
    const answer = await transfer(new URL(`${client.url}/images/v1/import`), {
      method: "POST",
      token: await client.token(),
      body: { stream: createReadStream(file), type: "application/x-tar" },
    });
    if (answer.status !== 200) throw refusal(answer.status, answer.text);
    const imported = JSON.parse(answer.text) as Imported;
    if (values.json) printJson(imported);
    else {
      console.log(
        `imported ${imported.id} ${imported.version} into ${imported.dir}; ${imported.images.length} image${imported.images.length === 1 ? "" : "s"} verified, ${imported.loaded.length} loaded into Podman's store`,
      );
      console.log(`install it with: archy install ${imported.id}`);
    }
    return 0;
  });
}
