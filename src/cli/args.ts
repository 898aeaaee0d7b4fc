/** Command-line parsing shared by every command: node's parseArgs with errors that say how to fix them. */
import { type ParseArgsConfig, parseArgs } from "node:util";

/** Bad command-line input: printed as one line, exit code 2. */
export class UsageError extends Error {}

/**
 * Runs the subcommand `argv` begins with: usage (exit 2) without one, usage (exit 0) for --help,
 * a usage error naming an unknown one. `command` is the command it belongs to (`market`).
 */
export function runSubcommand(
  command: string,
  handlers: Readonly<Record<string, (argv: string[]) => Promise<number>>>,
  argv: string[],
  usage: string,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(usage);
    return Promise.resolve(sub === undefined ? 2 : 0);
  }
  // Own names only: `archy market toString` is not a subcommand.
  const handler = Object.hasOwn(handlers, sub) ? handlers[sub] : undefined;
  if (!handler) throw new UsageError(`unknown subcommand '${command} ${sub}'\n\n${usage}`);
  return handler(rest);
}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandLine<T extends Options>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({
      args: negativeValuesJoined(argv, options),
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
}

/**
 * `--keep-daily -1` as `--keep-daily=-1`: parseArgs takes a value that starts with a dash for an
 * option and refuses it as "ambiguous", an answer about its own rules; joined, the value reaches the
 * command, whose check says what the option takes. Only a negative number after an option that
 * takes a value is joined (`--every -h` stays a missing value and the option -h).
 */
export function negativeValuesJoined(argv: readonly string[], options: Options): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    const next = argv[i + 1];
    if (token === "--") {
      joined.push(...argv.slice(i));
      break;
    }
    const name = token.startsWith("--") && !token.includes("=") ? token.slice(2) : undefined;
    if (name && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${token}=${next}`);
      i++;
    } else joined.push(token);
  }
  return joined;
}
