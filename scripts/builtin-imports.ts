/**
 * Node's own modules imported by `require` in the module that uses them (scripts/build.ts): the
 * import statements of a `node:` module in a source file become `const … = require("node:…")`.
 *
 * Why: an ESM import of a built-in evaluates every export it has (loading streams, readline, TLS and
 * more for `node:util` and `node:fs`), and a module of esbuild's own standing in for a built-in is a
 * file of its own in the split build (one per built-in and set of commands using it: 9 of the 17
 * files `archy ls` loaded). `require` reads only the exports named, in the module itself.
 *
 * Rewritten: `import { a, b as c, type T } from "node:x"`, `import * as x from "node:x"` and
 * `import x from "node:x"`. Type-only imports are left to esbuild (it drops them), and any other
 * shape (a default and named exports together) to the build's fallback module for built-ins. Pure.
 */

const NAMED = /^import\s+\{([^}]*)\}\s+from\s+"(node:[^"]+)";?[ \t]*$/gm;
const WHOLE = /^import\s+(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)\s+from\s+"(node:[^"]+)";?[ \t]*$/gm;

/** `a, b as c, type T` -> `a, b: c` (the types dropped); empty when all were types. */
function destructuring(specifiers: string): string {
  return specifiers
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "" && !/^type\s/.test(part))
    .map((part) => part.replace(/^([\w$]+)\s+as\s+([\w$]+)$/, "$1: $2"))
    .join(", ");
}

/** The statement's line breaks after its replacement: the source map's lines stay the file's. */
const sameLines = (statement: string, replacement: string) =>
  replacement + "\n".repeat(statement.split("\n").length - 1);

export function requireBuiltins(source: string): string {
  return source
    .replace(NAMED, (statement: string, specifiers: string, module: string) => {
      const names = destructuring(specifiers);
      return sameLines(
        statement,
        names === "" ? "" : `const { ${names} } = require(${JSON.stringify(module)});`,
      );
    })
    .replace(WHOLE, (statement: string, name: string, module: string) =>
      name === "type" ? statement : `const ${name} = require(${JSON.stringify(module)});`,
    );
}
