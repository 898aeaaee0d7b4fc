/**
 * A minimal ustar writer for copying files into containers through Podman's archive API. Pure:
 * entries in, bytes out. Only regular files and directories: links are never written.
 */
export type TarEntry = {
  /** A relative path with `/` separators, no `..`. */
  name: string;
  type: "file" | "directory";
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  data?: Uint8Array;
};

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: "", name };
  const cut = name.lastIndexOf("/", 155);
  const prefix = name.slice(0, cut);
  const rest = name.slice(cut + 1);
  if (cut <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(rest) > 100)
    throw new Error(`path too long for a tar entry: ${name}`);
  return { prefix, name: rest };
}

/** The ustar header of an entry of `size` bytes (for writers that stream the data after it). */
export function tarHeader(entry: TarEntry, size: number): Buffer {
  if (entry.name.startsWith("/") || entry.name.split("/").includes(".."))
    throw new Error(`unsafe tar entry name: ${entry.name}`);
  const block = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(
    entry.type === "directory" && !entry.name.endsWith("/") ? `${entry.name}/` : entry.name,
  );
  block.write(name, 0, 100, "utf8");
  block.write(octal(entry.mode & 0o7777, 8), 100, 8, "ascii");
  block.write(octal(entry.uid, 8), 108, 8, "ascii");
  block.write(octal(entry.gid, 8), 116, 8, "ascii");
  block.write(octal(size, 12), 124, 12, "ascii");
  block.write(octal(Math.floor(entry.mtime), 12), 136, 12, "ascii");
  block.write("        ", 148, 8, "ascii");
  block.write(entry.type === "directory" ? "5" : "0", 156, 1, "ascii");
  block.write("ustar\0", 257, 6, "ascii");
  block.write("00", 263, 2, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return block;
}

export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === "file" ? Buffer.from(entry.data ?? new Uint8Array()) : Buffer.alloc(0);
    parts.push(tarHeader(entry, data.length), data, tarPadding(data.length));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

/** The zeros that follow `size` bytes of data up to the next block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The two zero blocks that end an archive. */
export const TAR_END = Buffer.alloc(BLOCK * 2);
