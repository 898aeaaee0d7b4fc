/** Where an entry's data starts in a tar archive a test holds in memory, to change one of its bytes. */

/** The offset of the data of `name` in the tar `bytes` (ustar, names under 100 bytes). */
export function entryOffset(bytes: Buffer, name: string): number {
  const seen: string[] = [];
  for (let offset = 0; offset + 512 <= bytes.length; ) {
    const header = bytes.subarray(offset, offset + 512);
    const entry = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    if (entry === "") break;
    const size = Number.parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/s, "").trim(), 8);
    if (entry === name) return offset + 512;
    seen.push(entry);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} is not in the archive, which holds ${seen.join(", ")}`);
}
