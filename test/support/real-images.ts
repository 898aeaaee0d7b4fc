/**
 * The images of the real apps in apps-real/ (PostgreSQL 15, the rw-notes page, Mosquitto 2), built
 * from Debian packages by scripts/build-real-images into the test user's Podman: cached, so a run
 * builds them at most once. Needs root (debootstrap).
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { TEST_USER } from "../../src/host/layout.ts";
import { REPO_ROOT } from "./stage.ts";

export const REAL_APPS = join(REPO_ROOT, "apps-real");

/** Why the real apps' tests cannot run here, or false. */
export const realImagesSkip =
  process.getuid?.() === 0 ? false : "needs root (scripts/build-real-images runs debootstrap)";

/** Builds the real apps' images into the test user's Podman unless they are up to date. */
export function buildRealImages(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      join(REPO_ROOT, "scripts", "build-real-images"),
      ["--user", TEST_USER],
      { timeout: 1_200_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`scripts/build-real-images failed: ${error.message}\n${stdout}${stderr}`))
          : resolve(),
    );
  });
}
