/** `archy registry …`: the credentials the node pulls images with, per registry (docs/images.md). */
import type { Result } from "../../api/contract.ts";
import { runSubcommand, UsageError } from "../args.ts";
import type { SubcommandName } from "../commands.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  noArguments,
  operator,
  parseOperator,
  printJson,
  readSecretLine,
  table,
} from "../operator.ts";

const USAGE = `Usage: archy registry <command> [--url URL] [--token-file FILE]

  ls [--json]                     the registries the node has credentials for (never passwords)
  login HOST --username USER      store credentials for HOST (as image references name it:
                                  registry.example.org, 127.0.0.1:5000); the password is read
                                  from stdin (one line), never from the command line
  logout HOST                     forget the credentials for HOST

${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

type Registry = Result<"registry.list">[number];

function print(list: Registry[]): void {
  if (list.length === 0) console.log("no registry credentials: add some with archy registry login HOST");
  else
    console.log(
      table(
        ["REGISTRY", "USER"],
        list.map((r) => [r.host, r.username]),
      ),
    );
}

const SUBCOMMANDS: Record<SubcommandName<"registry">, (argv: string[]) => Promise<number>> = {
  ls,
  login,
  logout,
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("registry", SUBCOMMANDS, argv, USAGE);
}

function parse(argv: string[]) {
  return parseOperator(argv, { json: { type: "boolean" }, username: { type: "string" } }, USAGE);
}

/** The one registry host a subcommand acts on. */
function hostOf(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`give one registry host\n\n${USAGE}`);
  return positionals[0] as string;
}

async function ls(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    noArguments(positionals, USAGE);
    const list = await clientFor(values).call("registry.list");
    if (values.json) printJson(list);
    else print(list);
    return 0;
  });
}

async function login(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    const host = hostOf(positionals);
    if (typeof values.username !== "string") throw new UsageError(`--username is required\n\n${USAGE}`);
    await clientFor(values).call("registry.login", {
      host,
      username: values.username,
      password: await readSecretLine("password", "cat pw | archy registry login …"),
    });
    console.log(`stored the credentials of ${values.username} for ${host}`);
    return 0;
  });
}

async function logout(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    const host = hostOf(positionals);
    await clientFor(values).call("registry.logout", { host });
    console.log(`forgot the credentials for ${host}`);
    return 0;
  });
}
