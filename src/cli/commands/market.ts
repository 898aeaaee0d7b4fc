/** `archy market …`: the operator's side of the Nostr marketplace (docs/marketplace.md). */
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
  table,
} from "../operator.ts";

const USAGE = `Usage: archy market <command> [--url URL] [--token-file FILE]

  relays ls [--json]             the relays the node learns from, and how their last refresh went
  relays add URL                 add a relay (ws:// or wss://); none is configured by default
  relays remove URL              remove a relay
  identity [NPUB] [--clear]      show or set your own npub: trust is computed from your network
  settings [--threshold N] [--provider NPUB|--no-provider] [--json]
                                 the trust threshold below which installs need --confirm-risk
                                 (default 50), and an optional NIP-85 rank provider
  refresh                        learn from the relays now
  ls [--json]                    the marketplace's apps, most trusted first, with trust and reasons

Install one with: archy install ID [--source nostr:NPUB] [--confirm-risk]

${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

type Relay = Result<"market.relays">[number];

const SUBCOMMANDS: Record<SubcommandName<"market">, (argv: string[]) => Promise<number>> = {
  relays,
  identity,
  settings,
  refresh,
  ls,
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("market", SUBCOMMANDS, argv, USAGE);
}

const short = (npub: string) => `${npub.slice(0, 12)}…${npub.slice(-6)}`;

function printRelays(list: Relay[]): void {
  if (list.length === 0) {
    console.log("no relays: add one with archy market relays add wss://…");
    return;
  }
  console.log(
    table(
      ["RELAY", "STATE", "REFRESHED", "LEARNT", "REFUSED"],
      list.map((r) => [
        r.url,
        r.error ? `${r.state}: ${r.error}` : r.state,
        ago(r.lastAttemptAt),
        String(r.learnt),
        Object.entries(r.refused)
          .map(([kind, { count }]) => `${count} ${kind}`)
          .join(", ") || "-",
      ]),
    ),
  );
}

async function relays(argv: string[]): Promise<number> {
  const { values, positionals: words } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  const [action, ...positionals] = words;
  if (values.help || action === undefined) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  return operator(async () => {
    const client = clientFor(values);
    if (action === "ls") {
      noArguments(positionals, USAGE);
      const list = await client.call("market.relays");
      if (values.json) printJson(list);
      else printRelays(list);
      return 0;
    }
    if (action !== "add" && action !== "remove")
      throw new UsageError(`unknown action 'relays ${action}'\n\n${USAGE}`);
    if (positionals.length !== 1) throw new UsageError(`give one relay URL\n\n${USAGE}`);
    const url = positionals[0] as string;
    if (action === "add") {
      const { added } = await client.call("market.relays.add", { url });
      console.log(added ? `added ${url}` : `${url} was there already`);
    } else {
      await client.call("market.relays.remove", { url });
      console.log(`removed ${url}`);
    }
    return 0;
  });
}

async function identity(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { clear: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'\n\n${USAGE}`);
  return operator(async () => {
    const client = clientFor(values);
    const change = values.clear
      ? { identity: null }
      : positionals[0]
        ? { identity: positionals[0] }
        : undefined;
    const result = change
      ? await client.call("market.settings.set", change)
      : await client.call("market.settings");
    console.log(
      result.identity
        ? `your identity: ${result.identity} (trust is computed from the people it follows)`
        : "no identity set: every publisher is unknown; set yours with archy market identity npub1…",
    );
    return 0;
  });
}

async function settings(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(
    argv,
    {
      threshold: { type: "string" },
      provider: { type: "string" },
      "no-provider": { type: "boolean" },
      json: { type: "boolean" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  noArguments(positionals, USAGE);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && (!Number.isInteger(threshold) || threshold < 0 || threshold > 100))
    throw new UsageError(`--threshold ${values.threshold} is not a whole number from 0 to 100`);
  return operator(async () => {
    const client = clientFor(values);
    const change = {
      ...(threshold !== undefined ? { threshold } : {}),
      ...(values.provider ? { provider: values.provider } : values["no-provider"] ? { provider: null } : {}),
    };
    const result =
      Object.keys(change).length > 0
        ? await client.call("market.settings.set", change)
        : await client.call("market.settings");
    if (values.json) printJson(result);
    else {
      console.log(`identity:  ${result.identity ?? "(not set)"}`);
      console.log(`threshold: ${result.threshold} (installs below it need --confirm-risk)`);
      console.log(`provider:  ${result.provider ?? "(none: trust comes from your network only)"}`);
    }
    return 0;
  });
}

async function refresh(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  noArguments(positionals, USAGE);
  return operator(async () => {
    const list = await clientFor(values).call("market.refresh", {}, { timeoutMs: 600_000 });
    if (values.json) printJson(list);
    else printRelays(list);
    return list.some((r) => r.error) ? 1 : 0;
  });
}

async function ls(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  noArguments(positionals, USAGE);
  return operator(async () => {
    const result = await clientFor(values).call("market.list");
    if (values.json) {
      printJson(result);
      return 0;
    }
    if (result.apps.length === 0)
      console.log("no marketplace apps: add a relay (archy market relays add) and refresh");
    else
      console.log(
        table(
          ["APP", "VERSION", "PUBLISHER", "TRUST", "INSTALLED", "WHY"],
          result.apps.map((a) => [
            a.id,
            a.version,
            // A handle is shown as the publisher's name only once the node verified it (NIP-05).
            a.nip05?.verified ? `${a.nip05.handle} ✓` : short(a.publisher),
            `${a.trust.score} ${a.trust.level}`,
            a.installedVersion
              ? `${a.installedVersion}${a.updateAvailable ? " (update available)" : ""}`
              : a.otherSource
                ? `another app: ${a.otherSource}`
                : "-",
            [...a.trust.reasons, ...a.flags].join("; "),
          ]),
        ),
      );
    for (const app of result.installed)
      for (const flag of app.flags) console.log(`warning: installed ${app.id} ${app.version}: ${flag}`);
    return 0;
  });
}
