/**
 * Host addresses in one canonical text form, so that two spellings of the same address compare
 * equal: `0:0:0:0:0:0:0:0` is `::`, `::ffff:127.0.0.1` (an IPv4-mapped address) is `127.0.0.1`,
 * `2001:DB8:0::1` is `2001:db8::1` (RFC 5952). Pure.
 */

/** The sixteen bytes of an IPv6 address, or undefined when `text` is not one. */
function ipv6Bytes(text: string): number[] | undefined {
  let groups = text;
  const tail: number[] = [];
  const dotted = /(^|:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (dotted) {
    const parts = (dotted[2] as string).split(".").map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    tail.push(...parts);
    groups = `${text.slice(0, dotted.index)}${dotted[1]}0:0`;
  }
  const halves = groups.split("::");
  if (halves.length > 2) return undefined;
  const words = (half: string) => (half === "" ? [] : half.split(":"));
  const [head, rest] = [words(halves[0] as string), halves.length === 2 ? words(halves[1] as string) : []];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (!all.every((w) => /^[0-9a-fA-F]{1,4}$/.test(w))) return undefined;
  const bytes = all.flatMap((w) => [Number.parseInt(w, 16) >> 8, Number.parseInt(w, 16) & 0xff]);
  if (tail.length > 0) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** RFC 5952 text of an IPv6 address: lower case, no leading zeros, the longest zero run as `::`. */
function formatIpv6(bytes: number[]): string {
  const words = Array.from({ length: 8 }, (_, i) =>
    (((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number)).toString(16),
  );
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > best.length) best = { start: i, length: j - i };
  }
  if (best.start < 0) return words.join(":");
  return `${words.slice(0, best.start).join(":")}::${words.slice(best.start + best.length).join(":")}`;
}

/**
 * The canonical text of an IPv4 or IPv6 address (an IPv4-mapped IPv6 address as its IPv4
 * address), or `text` unchanged when it is neither.
 */
export function canonicalIp(text: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return text.split(".").map(Number).join(".");
  const bytes = ipv6Bytes(text);
  if (!bytes) return text;
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12).join(".") : formatIpv6(bytes);
}

/** Whether `address` (canonical) means every address of the host: 0.0.0.0 or ::. */
export function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

/** Whether sockets bound to `a` and to `b` (canonical addresses) would take the same port. */
export function bindsOverlap(a: string, b: string): boolean {
  return a === b || isWildcard(a) || isWildcard(b);
}
