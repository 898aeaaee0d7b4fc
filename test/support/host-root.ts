/**
 * Where tests put the stand-ins of the host paths apps are given. Host paths may only be under
 * /mnt, /media or /srv (src/manifest/host-paths.ts), never under /tmp where the tests' own
 * directories are: each lab gets a new directory under /srv, readable by the test user, and
 * removes it when it closes.
 */
import { chmodSync, mkdtempSync } from "node:fs";

export function makeHostRoot(name: string): string {
  try {
    const dir = mkdtempSync(`/srv/archy-test-${name}-`);
    chmodSync(dir, 0o755);
    return dir;
  } catch (error) {
    throw new Error(
      `cannot create a directory under /srv for the apps' host paths (${(error as Error).message}): host paths may only be under /mnt, /media or /srv, so tests that give apps some run as root (as CI does)`,
    );
  }
}
