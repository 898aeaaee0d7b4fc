/**
 * `archy auth rotate-token|logout-all`: the operator's credentials, from the node's shell. The CLI
 * token needs no password, so these work even while a browser cannot log in.
 */
import { runSubcommand } from "../args.ts";
import type { SubcommandName } from "../commands.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  noArguments,
  operator,
  parseOperator,
} from "../operator.ts";

const USAGE = `Usage:
  archy auth rotate-token [--url URL] [--token-file FILE]
      Write a new CLI token into the daemon's token file; the previous one stops working at once.
      (The daemon also writes a new one every time it starts.)
  archy auth logout-all [--url URL] [--token-file FILE]
      Revoke every session of the web API (every browser must log in again); the CLI token stays.

${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

/** An action of the daemon's, with the connection options every one of them takes. */
const withConnection =
  (action: (client: ReturnType<typeof clientFor>) => Promise<number>) =>
  async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseOperator(argv, {}, USAGE);
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    noArguments(positionals, USAGE);
    return operator(() => action(clientFor(values)));
  };

const SUBCOMMANDS: Record<SubcommandName<"auth">, (argv: string[]) => Promise<number>> = {
  "rotate-token": withConnection(async (client) => {
    await client.call("auth.rotateCliToken");
    console.log(`a new CLI token is in ${await client.tokenPath()}; the previous one no longer works`);
    return 0;
  }),
  "logout-all": withConnection(async (client) => {
    const { revoked } = await client.call("auth.logoutAll");
    console.log(`${revoked} session${revoked === 1 ? "" : "s"} revoked; every browser must log in again`);
    return 0;
  }),
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("auth", SUBCOMMANDS, argv, USAGE);
}
