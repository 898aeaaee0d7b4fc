/** `archy registry …`: the credentials the node pulls images with, per registry (docs/images.md). */
import { UsageError } from "../args.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  noArguments,
  operator,
  parseOperator,
  printJson,
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

type Registry = { host: string; username: string };

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("password (input is shown; pipe it to hide it): ");
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (process.stdin.isTTY && text.includes("\n")) break;
  }
  const password = text.split("\n")[0]?.replace(/\r$/, "") ?? "";
  if (password === "")
    throw new UsageError("no password on stdin: pipe it in, e.g. `cat pw | archy registry login …`");
  return password;
}

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

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  const { values, positionals } = parseOperator(
    rest,
    { json: { type: "boolean" }, username: { type: "string" } },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    const client = clientFor(values);
    if (sub === "ls") {
      noArguments(positionals, USAGE);
      const list = await client.call<Registry[]>("registry.list");
      if (values.json) printJson(list);
      else print(list);
      return 0;
    }
    if (sub !== "login" && sub !== "logout")
      throw new UsageError(`unknown subcommand 'registry ${sub}'\n\n${USAGE}`);
    if (positionals.length !== 1) throw new UsageError(`give one registry host\n\n${USAGE}`);
    const host = positionals[0] as string;
    if (sub === "logout") {
      await client.call("registry.logout", { host });
      console.log(`forgot the credentials for ${host}`);
      return 0;
    }
    if (typeof values.username !== "string") throw new UsageError(`--username is required\n\n${USAGE}`);
    await client.call("registry.login", { host, username: values.username, password: await readPassword() });
    console.log(`stored the credentials of ${values.username} for ${host}`);
    return 0;
  });
}
