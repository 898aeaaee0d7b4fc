/** The build's rewriting of imports of Node's built-ins into `require` (scripts/builtin-imports.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { requireBuiltins } from "../../scripts/builtin-imports.ts";

test("named, namespace and default imports of a built-in become require; types are dropped", () => {
  const source = [
    'import { readFileSync, type Stats, statSync } from "node:fs";',
    'import { join as joinPath } from "node:path";',
    'import * as os from "node:os";',
    'import assert from "node:assert/strict";',
    'import { type AddressInfo } from "node:net";',
  ].join("\n");
  assert.equal(
    requireBuiltins(source),
    [
      'const { readFileSync, statSync } = require("node:fs");',
      'const { join: joinPath } = require("node:path");',
      'const os = require("node:os");',
      'const assert = require("node:assert/strict");',
      "",
    ].join("\n"),
  );
});

test("a statement over several lines keeps the file's line count (source maps point at the right line)", () => {
  const source = 'import {\n  a,\n  b as c,\n} from "node:util";\nthrow new Error("line 5");\n';
  const out = requireBuiltins(source);
  assert.equal(out.split("\n").length, source.split("\n").length);
  assert.equal(out.split("\n")[4], 'throw new Error("line 5");');
  assert.match(out, /^const \{ a, b: c \} = require\("node:util"\);/);
});

test("type-only imports, other modules and mixed default-and-named imports are left as they are", () => {
  const source = [
    'import type { Server } from "node:http";',
    'import { foo } from "./foo.ts";',
    'import zlib, { gzipSync } from "node:zlib";',
    'import { parse } from "yaml";',
  ].join("\n");
  assert.equal(requireBuiltins(source), source);
});
