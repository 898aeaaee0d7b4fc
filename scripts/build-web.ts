/**
 * Builds the web UI (web/ → web/dist) when it is missing or stale: `npm run demo` and `npm test` run
 * it first, so the README's two commands still suffice. `--force` builds anyway; `--check` only says
 * whether a build is needed (exit 1 when it is).
 */
import { build } from "vite";
import { DIST, REPO_ROOT, staleInputs } from "../web/build-inputs.ts";

const force = process.argv.includes("--force");
const stale = staleInputs();
if (!force && stale.length === 0) {
  console.log(`web UI: up to date (${DIST})`);
  process.exit(0);
}
if (process.argv.includes("--check")) {
  console.log(`web UI: needs a build: ${stale.slice(0, 5).join(", ")}${stale.length > 5 ? ", …" : ""}`);
  process.exit(1);
}
const started = performance.now();
await build({ configFile: `${REPO_ROOT}/web/vite.config.ts`, logLevel: "warn" });
console.log(`web UI: built into ${DIST} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
