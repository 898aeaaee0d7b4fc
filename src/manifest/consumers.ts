/**
 * Per-consumer provisioning: an app that declares `consumers` (a database server) gives each
 * dependent that uses `${consumer:APP/NAME}` an account of its own. Pure: the consumer's name, the
 * files its generated values live in, and the environment its provision steps get.
 *
 * A pair's generated values belong to the consumer (the dependent): they live among its secrets, in
 * files no declared secret can be named (a declared secret is a DNS label, without `.`), so they
 * are kept across reinstalls of either side and go at the consumer's purge, with its secrets.
 */
import { createHash } from "node:crypto";
import { parseEnvFile } from "./env-file.ts";
import { parseTemplate } from "./interpolation.ts";
import type { Manifest } from "./schema.ts";

export type ConsumersSpec = NonNullable<Manifest["consumers"]>;

/** The consumer value every provider gives: `${consumer:APP/name}`, the consumer's name (consumerName). */
export const RESERVED_NAME = "name";
/** Names a consumer secret may not take: `name`, and `app` (the provision steps' ARCHY_CONSUMER_APP). */
export const RESERVED_SECRET_NAMES: readonly string[] = ["app", RESERVED_NAME];

/** PostgreSQL's (and most SQL servers') longest unquoted identifier. */
const MAX_IDENTIFIER = 63;
/** The hex digits of the id's hash that keep a name derived from an unusual id unique. */
const HASH_DIGITS = 16;

/**
 * The consumer's name, for SQL identifiers (a role, a database): lower-case letters, digits and
 * `_`, starting with a letter, at most 63 characters, and different for every app id, since a
 * consumer given another's name would take over its account. A plain id (`rw-notes`) becomes itself
 * with `_` for `-` (`rw_notes`); any other (a `publisher.app`, one with `--`, one too long) becomes a
 * readable prefix, `__` and 16 hex digits of its hash (`alice_wiki__3f…`): a plain id's name never
 * holds `__`, so the two kinds never meet, and two unusual ids meet only if their hashes do.
 */
export function consumerName(appId: string): string {
  const readable = appId.replace(/[.-]/g, "_");
  if (!appId.includes(".") && !appId.includes("--") && readable.length <= MAX_IDENTIFIER) return readable;
  const hash = createHash("sha256").update(appId).digest("hex").slice(0, HASH_DIGITS);
  const prefix = readable.slice(0, MAX_IDENTIFIER - HASH_DIGITS - 2).replace(/_+$/, "");
  return `${prefix}__${hash}`;
}

/** The file, among the consumer's secrets, that holds the value `secret` it was given by `provider`. */
export function pairSecretFile(provider: string, secret: string): string {
  return `consumer.${provider}.${secret}`;
}

/** Whether a file among an app's secrets holds a value it has as a consumer (pairSecretFile). */
export function isPairSecretFile(name: string): boolean {
  return name.startsWith("consumer.");
}

/** The environment variable that gives a provision step the consumer's value `secret`. */
export function consumerSecretVariable(secret: string): string {
  return `ARCHY_CONSUMER_${secret.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * What a provision or deprovision step runs with: the consumer's id, its name, and each generated
 * value (`values`, by secret name). Passed as the exec's environment, never as arguments.
 */
export function consumerEnvironment(
  consumer: string,
  values: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {
    ARCHY_CONSUMER_APP: consumer,
    ARCHY_CONSUMER_NAME: consumerName(consumer),
  };
  for (const [secret, value] of Object.entries(values)) env[consumerSecretVariable(secret)] = value;
  return env;
}

/**
 * The generated values an app holds as a consumer of each provider in `consumes` (whose manifests
 * are `providers`), by their file among its secrets, with each one's alphabet and length.
 */
export function pairSecrets(
  consumes: readonly string[],
  providers: Readonly<Record<string, Manifest>>,
): Record<string, { provider: string; secret: string; spec: ConsumersSpec["secrets"][string] }> {
  const pairs: ReturnType<typeof pairSecrets> = {};
  for (const provider of consumes)
    for (const [secret, spec] of Object.entries(providers[provider]?.consumers?.secrets ?? {}))
      pairs[pairSecretFile(provider, secret)] = { provider, secret, spec };
  return pairs;
}

/**
 * The apps whose consumer values the app uses — in environment values, in the values of its
 * env_files (`envFileTexts`, as stored) and as files — sorted: those it has an account in.
 */
export function consumedApps(manifest: Manifest, envFileTexts: readonly string[] = []): string[] {
  const apps = new Set<string>();
  const values = [
    ...Object.values(manifest.containers).flatMap((c) =>
      Object.values(c.environment).filter((v): v is string => typeof v === "string"),
    ),
    ...envFileTexts.flatMap((text) => parseEnvFile(text).entries.map((entry) => entry.value)),
  ];
  for (const value of values) {
    const parts = parseTemplate(value);
    if (!("message" in parts)) for (const part of parts) if (part.kind === "consumer") apps.add(part.app);
  }
  for (const container of Object.values(manifest.containers))
    for (const file of container.secrets) if ("consumer" in file) apps.add(file.app);
  return [...apps].sort();
}
