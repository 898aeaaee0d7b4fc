/**
 * Credentials for image registries, one per registry host, kept like the apps' secrets: a file
 * readable only by the daemon user (0600 in a 0700 directory), written whole and renamed into
 * place, its password learnt by the secret mask (secret-mask.ts) so that it never reaches a log,
 * an event or an error, whatever a registry or Podman says back. Only the host and the user name
 * are ever shown.
 */
import { readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RegistryAuth } from "../runtime/runtime.ts";
import type { SecretMask } from "./secret-mask.ts";

/** A registry host as image references name it: `name[.domain][:port]`, lower case. */
const REGISTRY_HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?$/;

export class RegistryCredentialsError extends Error {
  override name = "RegistryCredentialsError";
}

type Stored = { username: string; password: string };

export class RegistryCredentials {
  readonly root: string;
  readonly #mask: SecretMask;

  constructor(root: string, mask: SecretMask) {
    this.root = root;
    this.#mask = mask;
  }

  /** Learns the passwords stored now, so that they are masked before anything can print them. */
  learnExisting(): void {
    for (const host of this.hosts()) this.get(host);
  }

  /** The hosts credentials are stored for. */
  hosts(): string[] {
    try {
      return readdirSync(this.root)
        .filter((name) => name.endsWith(".json"))
        .map((name) => name.slice(0, -".json".length))
        .sort();
    } catch {
      return [];
    }
  }

  /** The credentials for `host`, as Podman takes them; undefined when none are stored. */
  get(host: string): RegistryAuth | undefined {
    let stored: Stored;
    try {
      stored = JSON.parse(readFileSync(this.#file(host), "utf8")) as Stored;
    } catch {
      return undefined;
    }
    this.#mask.add(`registry ${host}`, stored.password);
    return { username: stored.username, password: stored.password, serveraddress: host };
  }

  /** The user name stored for `host` (what may be shown), or undefined. */
  usernameOf(host: string): string | undefined {
    return this.get(host)?.username;
  }

  async set(host: string, username: string, password: string): Promise<void> {
    const file = this.#file(host);
    if (username === "" || /[\s:]/.test(username))
      throw new RegistryCredentialsError("username: must be non-empty, without spaces or ':'");
    if (password === "") throw new RegistryCredentialsError("password: must not be empty");
    this.#mask.add(`registry ${host}`, password);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await chmod(this.root, 0o700);
    const temporary = `${file}.tmp-${process.pid}`;
    await writeFile(temporary, JSON.stringify({ username, password } satisfies Stored), { mode: 0o600 });
    await rename(temporary, file);
  }

  /** Forgets the credentials for `host`; false when there were none. */
  async remove(host: string): Promise<boolean> {
    const known = this.get(host) !== undefined;
    await rm(this.#file(host), { force: true });
    return known;
  }

  #file(host: string): string {
    if (!REGISTRY_HOST.test(host))
      throw new RegistryCredentialsError(
        `registry: '${host}' is not a registry host; give it as in image references, e.g. registry.example.org or 127.0.0.1:5000`,
      );
    return join(this.root, `${host}.json`);
  }
}
