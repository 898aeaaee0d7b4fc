/**
 * The `archy` command line: dispatch and help from the table of commands (commands.ts), each in
 * its own module under `commands/`, loaded only when used.
 */
import { UsageError } from "./args.ts";
import { COMMANDS, type Command } from "./commands.ts";
import { cacheCompiledCode } from "./compile-cache.ts";

function usage(): string {
  const visible = Object.entries(COMMANDS).filter(([, c]) => c.group !== "hidden");
  const width = Math.max(...visible.map(([name]) => name.length));
  const lines = (group: Command["group"]) =>
    visible
      .filter(([, c]) => c.group === group)
      .map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return [
    "Usage: archy <command> [options]",
    "",
    "Operator commands (they talk to the daemon at --url or ARCHY_URL, default http://127.0.0.1:7780):",
    ...lines("operator"),
    "",
    "Other commands:",
    ...lines(undefined),
    "",
    "Run `archy <command> --help` for details.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  // Own names only: `archy toString` is not a command.
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`archy: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  // Before the command's modules load: they are most of what a start compiles.
  cacheCompiledCode();
  return (await command.load()).run(rest);
}

// Output piped into a program that stops reading (`archy … | head`) is not an error of ours.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`archy: ${error.message}`);
    process.exitCode = 2;
  } else {
    // Loaded for the rare unexpected error only: not a module every start resolves and links.
    const { sourceStack } = await import("./stack.ts");
    console.error(
      `archy: ${error instanceof Error ? sourceStack(error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  }
}
