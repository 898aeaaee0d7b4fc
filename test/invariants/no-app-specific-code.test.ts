/**
 * SPEC invariant 2: install, run, update and uninstall need only the manifest. No sample app id may
 * appear in the platform's own source (tests, golden files, fixtures and the samples are exempt).
 * An id that is an ordinary word counts only as a string literal: `const notes = []` is not the app,
 * nor is a command-line option of that name (`{ name: "notes", … }` declares `--notes`).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";

const root = new URL("../../", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "golden" ? [] : sourceFiles(path);
    return /\.(ts|tsx|js|sh)$/.test(entry.name) && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

test("no sample app id appears in the platform's source", () => {
  const ids = readdirSync(join(root, "apps"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map(
      (entry) =>
        (parse(readFileSync(join(root, "apps", entry.name, "manifest.yml"), "utf8")) as { id: string }).id,
    );
  assert.ok(ids.length >= 4, "the sample apps were found");
  const files = sourceFiles(join(root, "src"));
  assert.ok(files.length > 20, "the platform's source was found");
  const hits: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const id of ids) {
      const escaped = id.replace(/[.]/g, "\\.");
      // An id that is also an ordinary word (`notes`) counts only as a string of its own; an id
      // like `hello-web` counts wherever it stands.
      // A command-line option's declared name (`{ name: "notes", … }`, `--notes`) is that word.
      const pattern = /^[a-z]+$/.test(id)
        ? new RegExp(`(?<!\\bname: )(["'\`])${escaped}\\1`)
        : new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`);
      if (pattern.test(text)) hits.push(`${relative(root, file)}: ${id}`);
    }
  }
  assert.deepEqual(hits, []);
});
