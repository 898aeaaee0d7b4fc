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

function header(entry: TarEntry, size: number): Buffer {
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
    parts.push(header(entry, data.length), data);
    const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (padding > 0) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
