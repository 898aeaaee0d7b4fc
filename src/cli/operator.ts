/**
 * What the operator commands (`archy ls`, `install`, `status`, …) share: the connection options, the
 * error reporting (one line, a hint, the documented exit code) and plain-text formatting.
 */
import { parseCommandLine, UsageError } from "./args.ts";
import { CliError, DaemonClient, DEFAULT_URL, reportError } from "./client.ts";

type Options = Parameters<typeof parseCommandLine>[1];

/** Options every operator command takes. */
export const CONNECTION_OPTIONS = {
  url: { type: "string" },
  "token-file": { type: "string" },
} as const satisfies Options;

export const CONNECTION_USAGE = `  --url URL           the daemon (ARCHY_URL; default ${DEFAULT_URL})
  --token-file FILE   the daemon's CLI token (ARCHY_TOKEN_FILE; default: found in the data directory)`;

export const EXIT_CODES_USAGE =
  "Exit codes: 0 done, 1 refused or failed (message printed), 2 bad usage, 3 daemon unreachable.";

/** Parses an operator command's arguments: its own options plus the connection options. */
export function parseOperator<T extends Options>(argv: string[], options: T, usage: string) {
  return parseCommandLine(argv, { ...CONNECTION_OPTIONS, ...options }, usage);
}

export function clientFor(values: { url?: unknown; "token-file"?: unknown }): DaemonClient {
  return new DaemonClient({
    url: values.url as string | undefined,
    tokenFile: values["token-file"] as string | undefined,
  });
}

/** Exactly one APP argument. */
export function oneApp(positionals: string[], usage: string): string {
  if (positionals.length === 0) throw new UsageError(`which app? give its id\n\n${usage}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'\n\n${usage}`);
  const id = positionals[0] as string;
  if (!/^[a-z][a-z0-9.-]{0,80}$/.test(id))
    throw new UsageError(
      `'${id}' is not an app id (lowercase letters, digits, dashes; e.g. my-app)\n\n${usage}`,
    );
  return id;
}

export function noArguments(positionals: string[], usage: string): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${usage}`);
}

/** Runs an operator command; a CliError becomes its line, hint and exit code. */
export async function operator(work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CliError) return reportError(error);
    throw error;
  }
}

/** A duration in the largest sensible unit: `850ms`, `12s`, `4m`, `3h`, `2d`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1).replace(/\.0$/, "") : Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function ago(at: number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return "never";
  return `${duration(Math.max(0, now - at))} ago`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A secret read from stdin, its first line (never from the command line, where other users' `ps`
 * would see it): typed at a terminal, or piped in to keep it off the screen.
 */
export async function readSecretLine(what: string, example: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`${what} (input is shown; pipe it to hide it): `);
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (process.stdin.isTTY && text.includes("\n")) break;
  }
  const secret = text.split("\n")[0]?.replace(/\r$/, "") ?? "";
  if (secret === "") throw new UsageError(`no ${what} on stdin: pipe it in, e.g. \`${example}\``);
  return secret;
}
