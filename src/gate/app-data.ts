/**
 * An app's data on the host, as the gate checks it: a marker file the gate plants in each of the
 * app's volumes (what an app would have written) and the app's generated secrets (only their SHA-256
 * digests leave this module; the values are returned separately, for redaction, never reported).
 * Volume directories may belong to a container uid (a subordinate id of the daemon's user): root
 * writes there directly and gives the file the directory's owner; the daemon's user itself goes
 * through `podman unshare`.
 */
import { createHash, randomBytes } from "node:crypto";
import { chown, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { volumeHostPath } from "../manifest/naming.ts";
import { exec } from "../system/exec.ts";
import { isRoot } from "./run-as.ts";

export const MARKER_FILE = ".archy-gate-marker";

const denied = (error: unknown) => ["EACCES", "EPERM"].includes((error as NodeJS.ErrnoException).code ?? "");

async function unshare(argv: string[], input?: string) {
  return exec("podman", ["unshare", ...argv], {
    timeoutMs: 60_000,
    ...(input !== undefined ? { input } : {}),
  });
}

export class AppData {
  readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  appDir(appId: string): string {
    return join(this.dataDir, "apps", appId);
  }

  volumeDir(appId: string, volume: string): string {
    return volumeHostPath(this.dataDir, appId, volume);
  }

  secretsDir(appId: string): string {
    return join(this.dataDir, "state", "secrets", appId);
  }

  /** Writes a fresh marker into the volume; resolves with its content. */
  async plantMarker(appId: string, volume: string, label: string): Promise<string> {
    const dir = this.volumeDir(appId, volume);
    const path = join(dir, MARKER_FILE);
    const content = `archy gate ${label} ${randomBytes(8).toString("hex")}\n`;
    try {
      await writeFile(path, content, { mode: 0o644 });
      if (isRoot()) {
        const owner = await stat(dir);
        await chown(path, owner.uid, owner.gid);
      }
    } catch (error) {
      if (isRoot() || !denied(error)) throw error;
      const run = await unshare(["sh", "-c", 'cat > "$0"', path], content);
      if (run.code !== 0) throw new Error(`cannot write ${path}: ${run.stderr.trim()}`);
    }
    return content;
  }

  /** The marker's content, or undefined when it is not there. */
  async readMarker(appId: string, volume: string): Promise<string | undefined> {
    const path = join(this.volumeDir(appId, volume), MARKER_FILE);
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      if (isRoot() || !denied(error)) return undefined;
      const run = await unshare(["cat", path]);
      return run.code === 0 ? run.stdout : undefined;
    }
  }

  /** The app's secrets: digests by name (for the report) and values (for redaction only). */
  async secrets(appId: string): Promise<{ digests: Record<string, string>; values: string[] }> {
    const dir = this.secretsDir(appId);
    const digests: Record<string, string> = {};
    const values: string[] = [];
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return { digests, values };
    }
    for (const name of names.sort()) {
      const value = await readFile(join(dir, name), "utf8").catch(() => undefined);
      if (value === undefined) continue;
      digests[name] = createHash("sha256").update(value).digest("hex");
      values.push(value.trim());
    }
    return { digests, values };
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (error) {
      if (isRoot() || !denied(error)) return false;
      return (await unshare(["test", "-e", path])).code === 0;
    }
  }
}
