/** `archy peers …`: other nodes this one fetches marketplace bundles and images from, and who may fetch from it (docs/peers.md). */
import type { Result } from "../../api/contract.ts";
import { runSubcommand, UsageError } from "../args.ts";
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
  readSecretLine,
  table,
} from "../operator.ts";

const USAGE = `Usage: archy peers <command> [--url URL] [--token-file FILE]

  ls [--json]          the peers this node fetches marketplace bundles and images from first, and
                       the grants of the nodes that may fetch from this one (tokens are never shown)
  add URL              fetch bundles and pinned images first from the node at URL (http://host:port/,
                       the address and port it listens on; https:// only when its certificate is
                       one this node trusts); the token its operator granted you is read from
                       stdin: \`echo TOKEN | archy peers add URL\`
  remove URL           stop fetching from that node
  grant NAME           let another node fetch the bundles and images this one has: prints its
                       token, once; give it to that node's operator. While it grants any, this node
                       keeps the images it pulls for its peers (<data dir>/peer-images)
  revoke NAME          withdraw a grant: its token fetches nothing any more

Whatever a peer serves is verified: a bundle against the signed release (length, SHA-256, BLAKE3),
an image against the digest it is pinned by. A peer that serves other bytes is dropped for the
rest of the operation and the origin (the release's mirrors, the image's registry) is used.

${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

const SUBCOMMANDS: Record<SubcommandName<"peers">, (argv: string[]) => Promise<number>> = {
  ls,
  add,
  remove,
  grant,
  revoke,
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("peers", SUBCOMMANDS, argv, USAGE);
}

function print(view: Result<"peers.list">): void {
  console.log(
    view.peers.length === 0
      ? "fetches from no peer: add one with echo TOKEN | archy peers add http://host:port/"
      : table(
          ["PEER", "ADDED"],
          view.peers.map((p) => [p.url, ago(p.addedAt)]),
        ),
  );
  console.log(
    view.grants.length === 0
      ? "no node may fetch from this one: archy peers grant NAME"
      : table(
          ["GRANTED TO", "GRANTED"],
          view.grants.map((g) => [g.name, ago(g.grantedAt)]),
        ),
  );
}

function one(
  argv: string[],
  what: string,
): { value: string; values: ReturnType<typeof parseOperator>["values"] } {
  const { values, positionals } = parseOperator(argv, {}, USAGE);
  if (values.help) return { value: "", values };
  if (positionals.length !== 1) throw new UsageError(`give one ${what}\n\n${USAGE}`);
  return { value: positionals[0] as string, values };
}

async function ls(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  noArguments(positionals, USAGE);
  return operator(async () => {
    const view = await clientFor(values).call("peers.list");
    if (values.json) printJson(view);
    else print(view);
    return 0;
  });
}

async function add(argv: string[]): Promise<number> {
  const { value: url, values } = one(argv, "peer URL");
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    const token = await readSecretLine("peer token", "echo TOKEN | archy peers add URL");
    const { added, check } = await clientFor(values).call("peers.add", { url, token });
    console.log(`${added ? `added ${url}` : `${url} has its new token`}: ${check.message}`);
    return 0;
  });
}

async function remove(argv: string[]): Promise<number> {
  const { value: url, values } = one(argv, "peer URL");
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    await clientFor(values).call("peers.remove", { url });
    console.log(`removed ${url}`);
    return 0;
  });
}

/**
 * What to do with a new grant's token (on stderr: stdout has the token alone). The other node needs
 * this node's address as it reaches it, which the CLI does not know (it may talk to the daemon over
 * loopback); the port is the daemon's, and the daemon must listen where that node reaches it.
 */
export function grantedWords(name: string, daemonUrl: string): string {
  const url = new URL(daemonUrl);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return `granted ${name}: give this token to its operator, who adds this node with: echo TOKEN | archy peers add http://<this node's address>:${port}/ (this node must listen on an address that node reaches, e.g. archy daemon --listen 0.0.0.0:${port}; by default it listens on 127.0.0.1, this machine only); the token is not shown again`;
}

async function grant(argv: string[]): Promise<number> {
  const { value: name, values } = one(argv, "name for the node you let in");
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    const client = clientFor(values);
    const { token } = await client.call("peers.grant", { name });
    console.log(token);
    process.stderr.write(`${grantedWords(name, client.url)}\n`);
    return 0;
  });
}

async function revoke(argv: string[]): Promise<number> {
  const { value: name, values } = one(argv, "grant name");
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return operator(async () => {
    await clientFor(values).call("peers.revoke", { name });
    console.log(`revoked ${name}`);
    return 0;
  });
}
