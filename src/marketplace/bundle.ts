/**
 * An app's bundle: its manifest, icon and files in one ustar archive, written canonically (files
 * only, sorted, mode 0644, owner 0, time 0) so the same app directory always gives the same bytes,
 * and addressed by its length, SHA-256 and BLAKE3 (SPEC 2.8). Pure.
 *
 * The reader takes exactly what the writer writes and nothing else: regular file entries with
 * canonical relative names, their checksums right, no links, no directories, no extensions (pax,
 * GNU long names), nothing after the end, within the limits below. Whatever a bundle holds was
 * checked against its signed hashes before it is read (verify first, then parse).
 */
import { posix } from "node:path";
import { MANIFEST_TARGET } from "../catalog/layout.ts";
import { blake3Hex, sha256Hex } from "../catalog/targets.ts";
import { tar } from "../runtime/tar.ts";
import type { BundleDigest } from "./events.ts";

/** The largest bundle a node downloads: an app's manifest and small files (images come from registries). */
export const MAX_BUNDLE_BYTES = 32 * 1024 * 1024;
export const MAX_BUNDLE_FILES = 200;

export type BundleFile = { path: string; bytes: Uint8Array };

export class BundleError extends Error {
  override name = "BundleError";
}

export function packBundle(files: readonly BundleFile[]): Uint8Array {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return tar(
    sorted.map((f) => ({ name: f.path, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, data: f.bytes })),
  );
}

export function digestOf(bytes: Uint8Array): BundleDigest {
  return { size: bytes.length, sha256: sha256Hex(bytes), blake3: blake3Hex(bytes) };
}

/** Why bytes are not the bundle a release signs (length, then SHA-256, then BLAKE3), or undefined. */
export function digestProblem(bytes: Uint8Array, signed: BundleDigest): string | undefined {
  if (bytes.length !== signed.size) return `${bytes.length} bytes where ${signed.size} are signed`;
  const sha256 = sha256Hex(bytes);
  if (sha256 !== signed.sha256) return `SHA-256 ${sha256} where ${signed.sha256} is signed`;
  const blake3 = blake3Hex(bytes);
  if (blake3 !== signed.blake3) return `BLAKE3 ${blake3} where ${signed.blake3} is signed`;
  return undefined;
}

const BLOCK = 512;

function field(block: Uint8Array, offset: number, length: number): string {
  const bytes = block.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return Buffer.from(end === -1 ? bytes : bytes.subarray(0, end)).toString("utf8");
}

function octal(block: Uint8Array, offset: number, length: number, what: string): number {
  const text = field(block, offset, length).trim();
  if (!/^[0-7]{1,11}$/.test(text)) throw new BundleError(`a tar header's ${what} is not an octal number`);
  return Number.parseInt(text, 8);
}

/** A canonical relative path: no leading `/`, no `.`, `..` or empty parts, no backslash or NUL. */
export function canonicalPath(path: string): boolean {
  if (path.length === 0 || path.length > 255 || /[\\\0]/.test(path)) return false;
  const parts = path.split("/");
  return parts.every((p) => p !== "" && p !== "." && p !== "..") && posix.normalize(path) === path;
}

/** The files of a bundle (already verified against its signed hashes), or a BundleError saying why not. */
export function readBundle(bytes: Uint8Array): BundleFile[] {
  const files: BundleFile[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > bytes.length) throw new BundleError("the archive ends without its end blocks");
    const header = bytes.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) {
      const end = bytes.subarray(offset, offset + 2 * BLOCK);
      if (end.length !== 2 * BLOCK || !end.every((b) => b === 0) || offset + 2 * BLOCK !== bytes.length)
        throw new BundleError("the archive has bytes after its end (or a short end)");
      break;
    }
    if (field(header, 257, 6) !== "ustar" || field(header, 263, 2) !== "00")
      throw new BundleError("an entry is not a plain ustar header");
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] as number);
    if (octal(header, 148, 8, "checksum") !== sum) throw new BundleError("a tar header's checksum is wrong");
    const type = String.fromCharCode(header[156] as number);
    const prefix = field(header, 345, 155);
    const path = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
    if (type !== "0")
      throw new BundleError(`${path}: only regular files may be in a bundle (entry type ${type})`);
    if (!canonicalPath(path))
      throw new BundleError(`${JSON.stringify(path)} is not a canonical relative path`);
    if (names.has(path)) throw new BundleError(`${path} is twice in the bundle`);
    const size = octal(header, 124, 12, "size");
    const start = offset + BLOCK;
    if (start + size > bytes.length) throw new BundleError(`${path}: the archive ends inside the file`);
    names.add(path);
    if (names.size > MAX_BUNDLE_FILES) throw new BundleError(`more than ${MAX_BUNDLE_FILES} files`);
    files.push({ path, bytes: bytes.subarray(start, start + size) });
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  for (const name of names) {
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++)
      if (names.has(parts.slice(0, i).join("/")))
        throw new BundleError(`${name} is inside ${parts.slice(0, i).join("/")}, which is a file`);
  }
  if (!names.has(MANIFEST_TARGET)) throw new BundleError(`no ${MANIFEST_TARGET} at the top of the bundle`);
  return files;
}
