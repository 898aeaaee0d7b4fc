/**
 * The shape of the code, from its static imports (type-only ones included; `import()` loads on
 * use, as the CLI's command table does, are not dependencies of the module): no import cycles
 * under src/, and the layering the architecture promises (docs/architecture.md).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");
const SRC = join(ROOT, "src");

/** The modules under `dir` (tests excluded: a test may import what it tests from anywhere). */
function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modules(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** `import … from "./x.ts"` and `export … from "./x.ts"`, across lines; comments and strings aside. */
const STATIC_IMPORT = /^[ \t]*(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gm;

/** Each module under src/ with the modules under src/ it imports, by path relative to src/. */
function importGraph(sources: ReadonlyMap<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of sources) {
    const deps = [...text.matchAll(STATIC_IMPORT)].map((m) =>
      relative(SRC, resolve(dirname(join(SRC, file)), m[1] as string)),
    );
    graph.set(
      file,
      deps.filter((dep) => sources.has(dep)),
    );
  }
  return graph;
}

/** The import cycles of a graph: each strongly connected set of two or more modules (or one importing itself). */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

const SOURCES = new Map(modules(SRC).map((path) => [relative(SRC, path), readFileSync(path, "utf8")]));
const GRAPH = importGraph(SOURCES);

/** Imports of modules under `from` that reach modules under `to`, as `a → b`. */
function importsBetween(from: string, to: (dep: string) => boolean): string[] {
  return [...GRAPH].flatMap(([file, deps]) =>
    file.startsWith(from) ? deps.filter(to).map((dep) => `${file} → ${dep}`) : [],
  );
}

describe("imports under src/", () => {
  test("the graph was read: every module, and the imports between them", () => {
    assert.ok(GRAPH.size >= 150, `only ${GRAPH.size} modules found`);
    assert.ok(GRAPH.get("orchestrator/reconciler.ts")?.includes("orchestrator/app-reconciler.ts"));
    // Type-only and multi-line imports count.
    assert.ok(GRAPH.get("api/auth-methods.ts")?.includes("api/context.ts"));
  });

  test("the cycle finder finds cycles, long and short, and nothing in a tree", () => {
    assert.deepEqual(
      importCycles(
        new Map([
          ["a", ["b"]],
          ["b", ["c"]],
          ["c", ["a"]],
          ["d", ["d"]],
          ["e", ["a"]],
        ]),
      ),
      [["a", "b", "c"], ["d"]],
    );
    assert.deepEqual(
      importCycles(
        new Map([
          ["a", ["b", "c"]],
          ["b", ["c"]],
          ["c", []],
        ]),
      ),
      [],
    );
  });

  test("no import cycles: every module can be understood from what it imports", () => {
    assert.deepEqual(importCycles(GRAPH), []);
  });

  test("the daemon never imports the command line (the CLI starts the daemon, not the other way)", () => {
    assert.deepEqual(
      importsBetween("daemon/", (dep) => dep.startsWith("cli/")),
      [],
    );
  });

  test("the Runtime interface is the only door to Podman: outside runtime/ only the daemon (which assembles it) and the gate (Podman's independent witness) reach the libpod client or PodmanRuntime", () => {
    const door = (dep: string) =>
      (dep.startsWith("runtime/libpod/") && dep !== "runtime/libpod/errors.ts") ||
      dep === "runtime/podman-runtime.ts" ||
      dep === "runtime/observe.ts";
    const through = importsBetween("", door).filter((edge) => !/^(runtime|daemon|gate)\//.test(edge));
    assert.deepEqual(through, []);
  });
});
