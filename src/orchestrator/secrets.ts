/**
 * Generated secrets (SPEC invariant 4): generated once from a cryptographic source, stored as files
 * readable only by the daemon user (0600 in a 0700 directory), never regenerated while present,
 * recreated when missing, kept across uninstall and reinstall; deleted only by purge.
 *
 * Every value the daemon holds passes through here, so here it learns what to mask: the files
 * present at start, and each secret generated or read since (`mask`, see secret-mask.ts).
 */
import { randomInt } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Manifest } from "../manifest/schema.ts";
import { SecretMask } from "./secret-mask.ts";

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

/** `masked`: false for a value too short to mask (a file shortened by hand). */
export type EnsuredSecret = { name: string; value: string; created: boolean; masked: boolean };

/** A file being written (see `ensureAll`), not a secret. */
const isTemporary = (name: string) => name.includes(".tmp-");

export class SecretFiles {
  readonly root: string;
  /** Every secret value this daemon has seen, of every app, masked wherever it records or forwards text. */
  readonly mask = new SecretMask();

  constructor(root: string) {
    this.root = root;
  }

  /**
   * Learns the values of the secret files present now (at start: a dependency's exported secret
   * must be masked in its dependents' output before anything reads it again).
   */
  learnExisting(): void {
    const list = (dir: string) => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    };
    for (const appId of list(this.root))
      for (const name of list(this.dirOf(appId))) {
        if (isTemporary(name)) continue;
        try {
          this.#learn(appId, name, readFileSync(join(this.dirOf(appId), name), "utf8"));
        } catch {
          // Unreadable or not a file: nothing to mask; ensureAll reports what it cannot use.
        }
      }
  }

  #learn(appId: string, name: string, value: string): boolean {
    return this.mask.add(`${appId}/${name}`, value);
  }

  dirOf(appId: string): string {
    return join(this.root, appId);
  }

  /** Every secret the manifest declares, generating those that are missing. */
  ensureAll(manifest: Manifest): Promise<EnsuredSecret[]> {
    return this.ensure(manifest.id, manifest.secrets);
  }

  /**
   * The secrets of `appId` named in `specs` (its declared ones, or the values it holds as a
   * consumer: consumers.ts), generating those that are missing.
   */
  async ensure(
    appId: string,
    specs: Readonly<Record<string, Manifest["secrets"][string]>>,
  ): Promise<EnsuredSecret[]> {
    const dir = this.dirOf(appId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(this.root, 0o700);
    await chmod(dir, 0o700);
    const ensured: EnsuredSecret[] = [];
    for (const [name, spec] of Object.entries(specs)) {
      const path = join(dir, name);
      const existing = await readFile(path, "utf8").catch(() => undefined);
      if (existing !== undefined && existing.length > 0) {
        await chmod(path, 0o600);
        const masked = this.#learn(appId, name, existing);
        ensured.push({ name, value: existing, created: false, masked });
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
      ensured.push({ name, value, created: true, masked: this.#learn(appId, name, value) });
    }
    return ensured;
  }

  async read(appId: string, name: string): Promise<string | undefined> {
    const value = await readFile(join(this.dirOf(appId), name), "utf8").catch(() => undefined);
    if (value !== undefined) this.#learn(appId, name, value);
    return value;
  }

  /** Deletes an app's secrets: purge only. */
  async purge(appId: string): Promise<void> {
    await rm(this.dirOf(appId), { recursive: true, force: true });
  }
}
