/**
 * Key files on disk: created 0600 (never replaced), refused when others can read them, found by
 * key id in a key directory. The passphrase of sealed keys comes from the environment, never from
 * the command line (where `ps` and shell history would keep it), and is never printed.
 */
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PrivateFileError, readPrivateFile } from "../system/private-file.ts";
import { CatalogError } from "./errors.ts";
import {
  generateKey,
  isSealed,
  type KeyFileContent,
  openKey,
  parseKeyFile,
  type SigningKey,
} from "./keys.ts";

export const PASSPHRASE_VARIABLE = "ARCHY_CATALOG_PASSPHRASE";

export function passphraseFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[PASSPHRASE_VARIABLE];
  return value === undefined || value === "" ? undefined : value;
}

/** Creates a key file (0600, failing if the file exists) and returns what it holds. */
export async function createKeyFile(
  dir: string,
  role: string,
  passphrase?: string,
): Promise<{ file: string; content: KeyFileContent }> {
  const content = generateKey(role, passphrase);
  const file = join(dir, `${role}-${content.keyid.slice(0, 12)}.key`);
  await writeFile(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  return { file, content };
}

async function readKeyText(file: string): Promise<string> {
  try {
    return await readPrivateFile(file);
  } catch (error) {
    if (error instanceof PrivateFileError) throw new CatalogError(error.message);
    throw error;
  }
}

export async function readSigningKey(file: string, passphrase = passphraseFromEnv()): Promise<SigningKey> {
  return openKey(await readKeyText(file), file, passphrase);
}

/**
 * The signing keys in a directory whose ids are among `keyIDs` (the keys of the role to sign). A
 * sealed key is only opened when the passphrase is set; without it, it is skipped, and the caller
 * says which keys it found.
 */
export async function findSigningKeys(
  dir: string,
  keyIDs: readonly string[],
  passphrase = passphraseFromEnv(),
): Promise<{ keys: SigningKey[]; sealed: string[] }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const keys: SigningKey[] = [];
  const sealed: string[] = [];
  for (const name of names.filter((n) => n.endsWith(".key")).sort()) {
    const file = join(dir, name);
    const text = await readKeyText(file);
    const content = parseKeyFile(text, file);
    if (!keyIDs.includes(content.keyid)) continue;
    if (isSealed(content) && passphrase === undefined) sealed.push(file);
    else keys.push(openKey(text, file, passphrase));
  }
  return { keys, sealed };
}
