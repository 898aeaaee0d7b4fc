/**
 * Generated secrets (SPEC invariant 4): generated once from a cryptographic source, stored as files
 * readable only by the daemon user (0600 in a 0700 directory), never regenerated while present,
 * recreated when missing, kept across uninstall and reinstall; deleted only by purge.
 */
import { randomInt } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Manifest } from "../manifest/schema.ts";

const ALPHABETS = {
  alphanumeric: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  hex: "0123456789abcdef",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
} as const;

/** A uniformly random string over the secret type's alphabet (no modulo bias: `randomInt`). */
export function generateSecret(type: keyof typeof ALPHABETS, length: number): string {
  const alphabet = ALPHABETS[type];
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

export type EnsuredSecret = { name: string; value: string; created: boolean };

export class SecretFiles {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  dirOf(appId: string): string {
    return join(this.root, appId);
  }

  /** Every secret the manifest declares, generating those that are missing. */
  async ensureAll(manifest: Manifest): Promise<EnsuredSecret[]> {
    const dir = this.dirOf(manifest.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(this.root, 0o700);
    await chmod(dir, 0o700);
    const ensured: EnsuredSecret[] = [];
    for (const [name, spec] of Object.entries(manifest.secrets)) {
      const path = join(dir, name);
      const existing = await readFile(path, "utf8").catch(() => undefined);
      if (existing !== undefined && existing.length > 0) {
        await chmod(path, 0o600);
        ensured.push({ name, value: existing, created: false });
        continue;
      }
      const value = generateSecret(spec.type, spec.length);
      const temporary = `${path}.tmp-${process.pid}`;
      const handle = await open(temporary, "w", 0o600);
      try {
        await handle.writeFile(value);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
      ensured.push({ name, value, created: true });
    }
    return ensured;
  }

  async read(appId: string, name: string): Promise<string | undefined> {
    return readFile(join(this.dirOf(appId), name), "utf8").catch(() => undefined);
  }

  /** Deletes an app's secrets: purge only. */
  async purge(appId: string): Promise<void> {
    await rm(this.dirOf(appId), { recursive: true, force: true });
  }
}
