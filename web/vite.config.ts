/**
 * The web UI's build (scripts/build-web.ts runs it). Output: web/dist, served by the daemon at `/`.
 * No inline script or style (the daemon's CSP forbids them), no remote URL, one JS and one CSS file.
 * It records the files the bundle was made of (with their hashes) so that a later build can tell
 * whether anything changed (build-inputs.ts).
 */
import { defineConfig } from "vite";
import { recordInputs } from "./build-inputs.ts";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  publicDir: "public",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Nothing inlined as a data: URL into scripts or styles: the CSP allows files from this origin.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    rolldownOptions: {
      // React Query marks its modules "use client" for server components; there are none here.
      onLog: (level, log, handler) => {
        if (log.code !== "MODULE_LEVEL_DIRECTIVE") handler(level, log);
      },
    },
  },
  plugins: [recordInputs()],
});
