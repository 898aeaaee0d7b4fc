/**
 * The developer's key file on disk: 0600, never overwritten, refused when others can read it. Its
 * default place is the user's configuration directory; `--key` or ARCHY_DEV_KEY choose another.
 */
import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { createPrivateFile, PrivateFileError, readPrivateFile } from "../system/private-file.ts";
import {
  type DevKey,
  type KeyFileContent,
  MarketError,
  PASSPHRASE_VARIABLE,
  parseKeyFile,
} from "./identity.ts";
import { generateKeyFile, openKeyFile } from "./signing.ts";

export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ARCHY_DEV_KEY) return env.ARCHY_DEV_KEY;
  const config = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(config, "archipelago", "nostr-key.json");
}

export function passphraseFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[PASSPHRASE_VARIABLE];
  return value === undefined || value === "" ? undefined : value;
}

async function readText(file: string): Promise<string> {
  try {
    return await readPrivateFile(file);
  } catch (error) {
    if (error instanceof PrivateFileError)
      throw new MarketError(
        `${error.message}${error.message.endsWith("does not exist") ? ": create it with archy dev keygen" : ""}`,
      );
    throw error;
  }
}

export async function createKeyFile(
  file: string,
  options: { passphrase?: string; nip05?: string },
): Promise<KeyFileContent> {
  const content = generateKeyFile(options);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    await createPrivateFile(file, `${JSON.stringify(content, null, 2)}\n`);
  } catch (error) {
    if (error instanceof PrivateFileError) throw new MarketError(error.message);
    throw error;
  }
  return content;
}

export async function readKeyFile(file: string): Promise<KeyFileContent> {
  return parseKeyFile(await readText(file), file);
}

export async function readDevKey(file: string, passphrase = passphraseFromEnv()): Promise<DevKey> {
  return openKeyFile(await readText(file), file, passphrase);
}
