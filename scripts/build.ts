/**
 * Builds the `archy` command line (and so the daemon, which it runs) into JavaScript: one esbuild
 * bundle of `src/cli/main.ts` with its dependencies, split at each lazily loaded command, so that a
 * start loads a few files instead of ~950 modules and Node never strips TypeScript types (which
 * loads a WebAssembly compiler of ~17 MB). `docs/architecture.md` ("Starting fast") has the figures.
 *
 *   node scripts/build.ts            build now
 *   node scripts/build.ts --if-stale build only when a source is newer than the build (bin/archy)
 *
 * Every build goes to a directory of its own, `.build/<id>/`, and `dist` is then switched to it at
 * once (a symbolic link, renamed over): a process that started from the previous build keeps
 * loading its lazily imported chunks from its own directory. The three newest builds are kept.
 * `dist/BUILT` is written last: bin/archy runs the build only while that file is newer than every
 * file under `src/`, `package-lock.json` and this script, and otherwise builds again or runs the
 * sources. Source maps (`*.js.map`, without the sources) put `.ts` files and lines in the stack of
 * an unexpected error the CLI prints (src/cli/stack.ts), or in any with `--enable-source-maps`.
 *
 * Runs with the Node that `npm ci` installs (npm's `prepare` builds after every `npm ci`).
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import { build, type Metafile, type Plugin } from "esbuild";
import { CODE_ROOT } from "../src/system/code-root.ts";
import { requireBuiltins } from "./builtin-imports.ts";

const BUILDS = join(CODE_ROOT, ".build");
const DIST = join(CODE_ROOT, "dist");
const STAMP = "BUILT";
export const CHUNKS = "chunks.json";
const KEEP = 3;

/** The newest modification time under the given paths (files and directories, recursively). */
function newest(paths: string[]): number {
  let latest = 0;
  const visit = (path: string) => {
    const info = statSync(path, { throwIfNoEntry: false });
    if (!info) return;
    latest = Math.max(latest, info.mtimeMs);
    if (info.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const path of paths) visit(path);
  return latest;
}

/** Whether the build in `dist` is missing or older than what it is built from. */
export function isStale(): boolean {
  const built = statSync(join(DIST, STAMP), { throwIfNoEntry: false });
  if (!built) return true;
  const sources = [
    join(CODE_ROOT, "src"),
    join(CODE_ROOT, "package-lock.json"),
    join(CODE_ROOT, "scripts", "build.ts"),
  ];
  return newest(sources) > built.mtimeMs;
}

/**
 * Node's own modules through `require`, not `import`: an ESM import of a built-in evaluates every
 * export it has, and Node's `fs`, `util` and `http` have lazy ones that load streams, readline,
 * worker threads, TLS, HTTP/2 and undici (~100 internal modules, ~40 ms of a CLI command's start,
 * for `import { parseArgs } from "node:util"` and `import { readFileSync } from "node:fs"`). Through
 * `require` each export is read when the code uses it, as in CommonJS.
 *
 * Our sources' imports become `require` calls in the importing module itself
 * (scripts/builtin-imports.ts): no module of its own per built-in, which the split build made a
 * file of its own. What remains (dependencies' imports, `import("node:https")`) goes through a
 * module of getters over the built-in, not the built-in itself: esbuild's interop copies a CommonJS
 * module's exports by reading each one's property descriptor, and reading the descriptor of one of
 * Node's lazy exports loads it (`util`'s TextDecoder, diff and colours: 15 internal modules, ~7 ms
 * of `archy ls`).
 */
const builtinsOnUse: Plugin = {
  name: "builtins-on-use",
  setup(build) {
    const sources = join(CODE_ROOT, "src");
    build.onLoad({ filter: /\.ts$/ }, (args) =>
      args.path.startsWith(`${sources}/`)
        ? { contents: requireBuiltins(readFileSync(args.path, "utf8")), loader: "ts" }
        : undefined,
    );
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.namespace === "builtin" || args.kind === "require-call"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "builtin" },
    );
    build.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `const builtin = require(${JSON.stringify(args.path)});
for (const key of Object.getOwnPropertyNames(builtin))
  Object.defineProperty(module.exports, key, { get: () => builtin[key], enumerable: true });`,
      loader: "js",
    }));
  },
};

/**
 * Which npm packages each output file holds (`chunks.json`: file name -> package names, sorted;
 * a copy nested in another package's node_modules named by the path to it: `a > undici`):
 * to see what a process loaded from the names of the chunks it read (test/daemon/idle-modules.test.ts).
 */
export function chunkPackages(metafile: Metafile, out: string): Record<string, string[]> {
  const chunks: Record<string, string[]> = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!file.endsWith(".js")) continue;
    const packages = new Set<string>();
    for (const input of Object.keys(output.inputs)) {
      // A copy nested in another package's node_modules is named by the path to it: `a > undici`.
      const nested = input.split("node_modules/").slice(1);
      const names = nested.map((part) => /^(?:@[^/]+\/)?[^/]+/.exec(part)?.[0] ?? part);
      if (names.length > 0) packages.add(names.join(" > "));
    }
    chunks[relative(out, resolve(CODE_ROOT, file))] = [...packages].sort();
  }
  return chunks;
}

export async function buildCli(): Promise<string> {
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const out = join(BUILDS, id);
  mkdirSync(out, { recursive: true });
  const { metafile } = await build({
    metafile: true,
    entryPoints: [join(CODE_ROOT, "src", "cli", "main.ts")],
    outdir: out,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node24",
    plugins: [builtinsOnUse],
    sourcemap: "linked",
    sourcesContent: false,
    // Bundled CommonJS dependencies (fastify, pino) call require for Node's own modules.
    banner: {
      js: 'import { createRequire as __archyRequire } from "node:module"; const require = __archyRequire(import.meta.url);',
    },
    // Minified, names kept (stack traces and error names stay readable): the daemon keeps every
    // loaded module's source text in memory, 4.7 MB unminified, 2.4 MB minified (~7 MB of RSS).
    minify: true,
    keepNames: true,
    // Licence comments go to `<chunk>.LEGAL.txt` beside each chunk: the one non-ASCII character of
    // one of them ("Wärting", undici's) made Node decode the whole daemon chunk as UTF-16, twice
    // its 2.2 MB in the heap. Minified and with esbuild's ASCII charset, what remains is ASCII.
    legalComments: "external",
    logLevel: "warning",
  });
  writeFileSync(join(out, CHUNKS), `${JSON.stringify(chunkPackages(metafile, out), null, 1)}\n`);
  writeFileSync(join(out, STAMP), `${new Date().toISOString()}\n`);
  // Switch `dist` in one step: a link made beside it, renamed over it.
  const link = join(CODE_ROOT, `.dist-${id}`);
  symlinkSync(join(".build", id), link);
  renameSync(link, DIST);
  for (const old of readdirSync(BUILDS).sort().reverse().slice(KEEP))
    rmSync(join(BUILDS, old), { recursive: true, force: true });
  return out;
}

if (import.meta.main) {
  const ifStale = process.argv.includes("--if-stale");
  if (!ifStale || isStale()) {
    const started = performance.now();
    const out = await buildCli();
    if (!ifStale)
      console.log(`built ${out} in ${Math.round(performance.now() - started)} ms; dist -> .build/`);
  }
}
