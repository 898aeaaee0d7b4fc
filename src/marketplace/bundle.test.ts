import assert from "node:assert/strict";
import { test } from "node:test";
import { tar } from "../runtime/tar.ts";
import { digestOf, digestProblem, packBundle, readBundle } from "./bundle.ts";

const files = [
  { path: "manifest.yml", bytes: Buffer.from("manifest: 1\n") },
  { path: "files/index.html", bytes: Buffer.from("<h1>hi</h1>\n") },
];
const entry = (name: string, data = "x", type: "file" | "directory" = "file") => ({
  name,
  type,
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtime: 0,
  data: Buffer.from(data),
});

test("a bundle is canonical (same files, same bytes) and reads back as its files", () => {
  const bytes = packBundle(files);
  assert.deepEqual(bytes, packBundle([...files].reverse()), "order of the files does not matter");
  assert.deepEqual(
    readBundle(bytes).map((f) => [f.path, Buffer.from(f.bytes).toString()]),
    [
      ["files/index.html", "<h1>hi</h1>\n"],
      ["manifest.yml", "manifest: 1\n"],
    ],
  );
});

test("bytes that are not the signed bundle are refused by length, then SHA-256, then BLAKE3", () => {
  const bytes = packBundle(files);
  const signed = digestOf(bytes);
  assert.equal(digestProblem(bytes, signed), undefined);
  assert.match(digestProblem(bytes.subarray(1), signed) ?? "", /bytes where \d+ are signed/);
  const flipped = Uint8Array.from(bytes);
  flipped[600] = (flipped[600] ?? 0) ^ 1;
  assert.match(digestProblem(flipped, signed) ?? "", /^SHA-256 [0-9a-f]{64} where/);
  assert.match(digestProblem(bytes, { ...signed, blake3: "0".repeat(64) }) ?? "", /^BLAKE3 /);
});

/** A tar whose second header is changed by `edit`, its checksum made right again (what a forger does). */
function forged(names: string[], edit: (header: Buffer) => void): Buffer {
  const bytes = Buffer.from(tar(names.map((n) => entry(n, n === "manifest.yml" ? "manifest: 1\n" : "x"))));
  const header = bytes.subarray(1024, 1536);
  edit(header);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return bytes;
}

test("the reader takes only canonical regular files: no traversal, links, directories, twins, trailing bytes", () => {
  const manifest = entry("manifest.yml", "manifest: 1\n");
  assert.throws(
    () => readBundle(forged(["manifest.yml", "xx/escape"], (h) => h.write("..", 0))),
    /not a canonical relative path/,
  );
  assert.throws(
    () => readBundle(forged(["manifest.yml", "etc/passwd"], (h) => h.write("/", 0))),
    /not a canonical relative path/,
  );
  assert.throws(() => readBundle(tar([manifest, entry("a/./b")])), /not a canonical relative path/);
  assert.throws(() => readBundle(tar([manifest, entry("dir", "", "directory")])), /only regular files/);
  assert.throws(() => readBundle(tar([manifest, entry("a"), entry("a")])), /twice in the bundle/);
  assert.throws(() => readBundle(tar([manifest, entry("a"), entry("a/b")])), /inside a, which is a file/);
  assert.throws(() => readBundle(tar([entry("other.yml")])), /no manifest\.yml/);
  assert.throws(
    () => readBundle(Buffer.concat([tar([manifest]), Buffer.alloc(512, 1)])),
    /bytes after its end/,
  );
  const link = forged(["manifest.yml", "l"], (h) => h.write("2", 156)); // a symbolic link
  assert.throws(() => readBundle(link), /only regular files may be in a bundle \(entry type 2\)/);
  const unsummed = Buffer.from(tar([manifest, entry("l")]));
  unsummed[1024 + 156] = "2".charCodeAt(0);
  assert.throws(() => readBundle(unsummed), /checksum is wrong/);
  assert.throws(() => readBundle(Buffer.from(tar([manifest])).subarray(0, 700)), /ends/);
});
