/**
 * Whether web/dist is the build of the files it was made from. The build records every source file
 * the bundle read (from the repository, outside node_modules), with the lock file and the build's own
 * configuration, each with its SHA-256; the UI is built again when one of them changed or is gone.
 * Hashes, not times: a fresh clone has new times and the same content.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { Plugin } from "vite";

export const REPO_ROOT = resolve(import.meta.dirname, "..");
export const DIST = join(REPO_ROOT, "web", "dist");
export const INPUTS_FILE = join(DIST, ".build-inputs.json");
/** Inputs no module imports: the lock file (what node_modules holds) and the build's configuration. */
const ALWAYS = ["package-lock.json", "web/index.html", "web/vite.config.ts", "web/build-inputs.ts"];

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** The recorded inputs that changed or are gone (every input when nothing was recorded). */
export function staleInputs(): string[] {
  if (!existsSync(join(DIST, "index.html")) || !existsSync(INPUTS_FILE)) return ["(no build)"];
  let recorded: Record<string, string>;
  try {
    recorded = JSON.parse(readFileSync(INPUTS_FILE, "utf8")) as Record<string, string>;
  } catch {
    return ["(unreadable build record)"];
  }
  return Object.entries(recorded)
    .filter(([path, hash]) => {
      const absolute = join(REPO_ROOT, path);
      return !existsSync(absolute) || sha256(absolute) !== hash;
    })
    .map(([path]) => path);
}

export function recordInputs(): Plugin {
  return {
    name: "archipelago-record-inputs",
    apply: "build",
    generateBundle() {
      const files = new Set(ALWAYS);
      for (const id of this.getModuleIds()) {
        const path = id.split("?")[0] ?? "";
        if (!path.startsWith(REPO_ROOT) || path.includes("/node_modules/")) continue;
        files.add(relative(REPO_ROOT, path));
      }
      const record = Object.fromEntries(
        [...files]
          .sort()
          .filter((f) => existsSync(join(REPO_ROOT, f)))
          .map((f) => [f, sha256(join(REPO_ROOT, f))]),
      );
      this.emitFile({
        type: "asset",
        fileName: ".build-inputs.json",
        source: `${JSON.stringify(record, null, 1)}\n`,
      });
    },
  };
}
