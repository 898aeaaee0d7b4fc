/**
 * `archy logs APP [-f]`: the output of an app's containers. Following polls `package.logs` and prints
 * what is new since the last poll; see `newLines` for how "new" is decided exactly.
 */
import { UsageError } from "../args.ts";
import { CODES, type DaemonClient, DaemonUnreachable, type LogLine, RpcFailure } from "../client.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  oneApp,
  operator,
  parseOperator,
} from "../operator.ts";

const DEFAULT_TAIL = 200;
/** The most lines package.logs returns per container: the window a follower compares. */
export const FOLLOW_WINDOW = 5000;
const POLL_MS = 1000;
/** How long a follower waits for a daemon that went away before it gives up (exit 3). */
const UNREACHABLE_GRACE_MS = 60_000;

const USAGE = `Usage: archy logs APP [-f] [--container KEY] [--tail N] [--url URL] [--token-file FILE]

Prints the last lines of the app's container output (stdout to stdout, stderr to stderr), each line
prefixed with its container's key when the app has several containers.

  -f, --follow        keep printing new lines as they come (Ctrl-C stops)
  --container KEY     only this container (its key in the manifest)
  --tail N            how many lines of each container to print first (1-${FOLLOW_WINDOW}; default ${DEFAULT_TAIL})
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

type Line = Pick<LogLine, "stream" | "line">;

const same = (a: Line | undefined, b: Line | undefined) =>
  a !== undefined && b !== undefined && a.stream === b.stream && a.line === b.line;

/**
 * The lines of `next` that were not in `previous`, two successive windows of one container's output
 * (each its last `window` lines at most). While the output is shorter than the window, the old window
 * is exactly a prefix of the new one and the answer is exact. A shorter new window that does not
 * start with the old one is a new container (recreated, updated): all its lines are new
 * (`restarted`). Once the output overflows the window, the new lines are those after the largest
 * overlap of the old window's end with the new one's start; output that repeats the same lines for
 * longer than the poll interval can make that undercount, and no overlap at all means lines were
 * missed between two polls (`gap`).
 */
export function newLines(
  previous: Line[],
  next: Line[],
  window = FOLLOW_WINDOW,
): { lines: Line[]; restarted: boolean; gap: boolean } {
  const prefix = previous.length <= next.length && previous.every((line, i) => same(line, next[i]));
  if (prefix) return { lines: next.slice(previous.length), restarted: false, gap: false };
  if (next.length < window) return { lines: next, restarted: previous.length > 0, gap: false };
  for (let shift = 1; shift < previous.length; shift++) {
    const overlap = previous.length - shift;
    if (overlap > next.length || !same(next[0], previous[shift])) continue;
    let match = true;
    for (let i = 1; i < overlap && match; i++) match = same(next[i], previous[shift + i]);
    if (match) return { lines: next.slice(overlap), restarted: false, gap: false };
  }
  return { lines: next, restarted: false, gap: true };
}

function group(lines: LogLine[]): Map<string, Line[]> {
  const byContainer = new Map<string, Line[]>();
  for (const { container, stream, line } of lines) {
    const list = byContainer.get(container) ?? [];
    list.push({ stream, line });
    byContainer.set(container, list);
  }
  return byContainer;
}

function printer(prefix: boolean) {
  return (container: string, lines: Line[]) => {
    for (const { stream, line } of lines)
      (stream === "stderr" ? process.stderr : process.stdout).write(
        `${prefix ? `${container} | ` : ""}${line}\n`,
      );
  };
}

function parseTail(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TAIL;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > FOLLOW_WINDOW)
    throw new UsageError(
      `--tail: "${value}" is not a number of lines from 1 to ${FOLLOW_WINDOW}\n\n${USAGE}`,
    );
  return n;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow(
  client: DaemonClient,
  id: string,
  container: string | undefined,
  tail: number,
  print: (container: string, lines: Line[]) => void,
): Promise<number> {
  const params = { id, tail: FOLLOW_WINDOW, ...(container ? { container } : {}) };
  let windows = new Map<string, Line[]>();
  let first = true;
  let unreachableSince: number | undefined;
  for (;;) {
    let fetched: LogLine[];
    try {
      fetched = await client.call("package.logs", params, { timeoutMs: 60_000 });
      if (unreachableSince !== undefined) console.error(`archy: the daemon is back; following ${id} again`);
      unreachableSince = undefined;
    } catch (error) {
      if (error instanceof RpcFailure && error.code === CODES.notFound && !first) {
        console.error(`archy: ${id} is no longer installed; stopped following`);
        return 0;
      }
      // Podman restarting under the daemon: the next poll will do.
      if (
        error instanceof RpcFailure &&
        (error.code === CODES.podmanUnavailable || error.code === CODES.internalError) &&
        !first
      ) {
        await sleep(POLL_MS);
        continue;
      }
      if (error instanceof DaemonUnreachable && !first) {
        const now = Date.now();
        if (unreachableSince === undefined) {
          unreachableSince = now;
          console.error(`archy: lost the daemon at ${client.url}; waiting for it to come back`);
        } else if (now - unreachableSince > UNREACHABLE_GRACE_MS) throw error;
        await sleep(POLL_MS);
        continue;
      }
      throw error;
    }
    const next = group(fetched);
    for (const [key, lines] of next) {
      if (first) {
        print(key, lines.slice(-tail));
        continue;
      }
      const result = newLines(windows.get(key) ?? [], lines);
      if (result.restarted)
        console.error(`archy: ${key}: a new container; its output follows from the start`);
      if (result.gap)
        console.error(
          `archy: ${key}: more than ${FOLLOW_WINDOW} lines since the last poll; some were skipped`,
        );
      print(key, result.lines);
    }
    windows = next;
    first = false;
    await sleep(POLL_MS);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(
    argv,
    {
      follow: { type: "boolean", short: "f" },
      container: { type: "string" },
      tail: { type: "string" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const id = oneApp(positionals, USAGE);
  const tail = parseTail(values.tail as string | undefined);
  const container = values.container as string | undefined;
  return operator(async () => {
    const client = clientFor(values);
    const app = await client.call("package.get", { id });
    const print = printer(container === undefined && app.containers.length > 1);
    if (values.follow) return follow(client, id, container, tail, print);
    const lines = await client.call(
      "package.logs",
      { id, tail, ...(container ? { container } : {}) },
      { timeoutMs: 60_000 },
    );
    for (const [key, list] of group(lines)) print(key, list);
    return 0;
  });
}
