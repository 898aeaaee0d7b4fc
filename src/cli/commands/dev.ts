/** `archy dev keygen|whoami|relay`: the marketplace developer's identity and local relay (docs/marketplace.md). */
import { MarketError, NIP05, PASSPHRASE_VARIABLE } from "../../marketplace/identity.ts";
import { createKeyFile, defaultKeyFile, passphraseFromEnv, readKeyFile } from "../../marketplace/key-file.ts";
import { parseCommandLine, runSubcommand, UsageError } from "../args.ts";
import type { SubcommandName } from "../commands.ts";
import { printJson } from "../operator.ts";

const USAGE = `Usage: archy dev <command>

  keygen [--key FILE] [--nip05 NAME@DOMAIN] [--encrypt]
      Create your developer identity: a Nostr key pair (secp256k1), in a 0600 file never
      overwritten (default ~/.config/archipelago/nostr-key.json, or ARCHY_DEV_KEY). --encrypt seals
      the secret key with the passphrase in ${PASSPHRASE_VARIABLE}. Prints your npub and did:key.
  whoami [--key FILE] [--json]
      Show the identity of a key file: npub, hex public key, did:key, NIP-05 handle.
  relay [--listen HOST:PORT] [--db FILE] [--bundles DIR]
      Run a local Nostr relay (default 127.0.0.1:7777, events in memory or in --db) with a bundle
      mirror at /bundles/ (GET and PUT) when --bundles is given, until Ctrl-C.`;

const SUBCOMMANDS: Record<SubcommandName<"dev">, (argv: string[]) => Promise<number>> = {
  keygen,
  whoami,
  relay,
};

export function run(argv: string[]): Promise<number> {
  return runSubcommand("dev", SUBCOMMANDS, argv, USAGE);
}

function reported(work: () => Promise<number>): Promise<number> {
  return work().catch((error: unknown) => {
    if (error instanceof MarketError) {
      console.error(`archy: ${error.message}`);
      return 1;
    }
    throw error;
  });
}

async function keygen(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    { key: { type: "string" }, nip05: { type: "string" }, encrypt: { type: "boolean" } },
    USAGE,
  );
  if (values.help) return help();
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${USAGE}`);
  const nip05 = values.nip05?.toLowerCase();
  if (nip05 !== undefined && !NIP05.test(nip05))
    throw new UsageError(`--nip05 ${values.nip05} is not a NIP-05 handle: give it as name@example.com`);
  const passphrase = values.encrypt ? passphraseFromEnv() : undefined;
  if (values.encrypt && passphrase === undefined)
    throw new UsageError(`--encrypt needs the passphrase in the environment variable ${PASSPHRASE_VARIABLE}`);
  return reported(async () => {
    const file = values.key ?? defaultKeyFile();
    const content = await createKeyFile(file, { passphrase, nip05 });
    console.log(`created ${file} (0600${passphrase ? `, sealed with ${PASSPHRASE_VARIABLE}` : ""})`);
    console.log(`npub:    ${content.npub}`);
    console.log(`did:     ${content.did}`);
    if (content.nip05)
      console.log(
        `nip05:   ${content.nip05} (publish ${content.pubkey} for it at https://${content.nip05.split("@")[1]}/.well-known/nostr.json)`,
      );
    console.log("keep the file safe: whoever has it publishes as you; nobody can recover it for you");
    return 0;
  });
}

async function whoami(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    { key: { type: "string" }, json: { type: "boolean" } },
    USAGE,
  );
  if (values.help) return help();
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${USAGE}`);
  return reported(async () => {
    const file = values.key ?? defaultKeyFile();
    const content = await readKeyFile(file);
    const sealed = content.private.encoding !== "hex";
    const identity = {
      file,
      npub: content.npub,
      pubkey: content.pubkey,
      did: content.did,
      nip05: content.nip05 ?? null,
      sealed,
    };
    if (values.json) printJson(identity);
    else {
      console.log(`npub:    ${identity.npub}`);
      console.log(`pubkey:  ${identity.pubkey}`);
      console.log(`did:     ${identity.did}`);
      if (identity.nip05) console.log(`nip05:   ${identity.nip05}`);
      console.log(`file:    ${file}${sealed ? " (sealed)" : ""}`);
    }
    return 0;
  });
}

async function relay(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    { listen: { type: "string" }, db: { type: "string" }, bundles: { type: "string" } },
    USAGE,
  );
  if (values.help) return help();
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${USAGE}`);
  const { parseListen } = await import("../../daemon/config.ts");
  const listen = parseListen(values.listen ?? "127.0.0.1:7777", "--listen");
  const { startDevRelay } = await import("../../marketplace/dev-relay.ts");
  const running = await startDevRelay({
    host: listen.host,
    port: listen.port,
    database: values.db,
    bundlesDir: values.bundles,
  });
  console.log(`relay: ${running.url}`);
  if (values.bundles)
    console.log(`bundle mirror: ${running.bundlesUrl} (GET and PUT; files in ${values.bundles})`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await running.close();
  return 0;
}

function help(): number {
  console.log(USAGE);
  return 0;
}
