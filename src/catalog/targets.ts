/**
 * Target files: each file of an app version is bound by its length and SHA-256 (what TUF clients
 * check), with its BLAKE3 in the target's `custom` metadata (SPEC 2.8: content addresses for
 * mirrors and peers that verify with BLAKE3). Pure. (Making one is the publisher's: repository.ts;
 * @tufjs/models stays unloaded on a node that only checks them.)
 */
import { createHash } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { TargetFile } from "@tufjs/models";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** What a node checks a file against: its signed length and hashes. */
export type SignedFile = Pick<TargetFile, "length" | "hashes">;

export function blake3Hex(bytes: Uint8Array): string {
  return bytesToHex(blake3(bytes));
}

/**
 * Checks the BLAKE3 recorded for a target against bytes that already passed TUF's length and
 * SHA-256 check: a disagreement means the signed metadata itself is inconsistent.
 */
export function blake3Problem(target: TargetFile, bytes: Uint8Array): string | undefined {
  const recorded = target.custom.blake3;
  if (typeof recorded !== "string") return `${target.path} has no BLAKE3 in its custom metadata`;
  const actual = blake3Hex(bytes);
  return actual === recorded
    ? undefined
    : `${target.path}: BLAKE3 ${actual} differs from the signed ${recorded}`;
}

/**
 * Why bytes are not what a target signs, or undefined: their length, then each hash the target
 * lists (what a TUF client checks). Cheap enough to run at every use of a cached file.
 */
export function signedProblem(target: SignedFile, bytes: Uint8Array): string | undefined {
  if (bytes.length !== target.length) return `${bytes.length} bytes where ${target.length} are signed`;
  for (const [algorithm, signed] of Object.entries(target.hashes)) {
    let actual: string;
    try {
      actual = createHash(algorithm).update(bytes).digest("hex");
    } catch {
      return `its signed ${algorithm} hash cannot be checked (unknown algorithm)`;
    }
    if (actual !== signed) return `${algorithm} ${actual} where ${signed} is signed`;
  }
  return undefined;
}
