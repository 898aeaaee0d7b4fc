/**
 * Fixed addresses for the containers other apps reach by name. Pure.
 *
 * A dependent that uses a dependency's `host` export joins two networks, its own and the
 * dependency's, and Podman lists one DNS server per network in its resolv.conf, in no fixed order;
 * each server answers only for its own network (containers/aardvark-dns#403, open on every Podman
 * version). So the name resolves, or not, by chance. Instead, the exported container gets a fixed
 * address on its app network, and the dependent gets a hosts entry for it: no DNS involved.
 *
 * App networks are created with a subnet of the platform's choosing whose lower part is Podman's
 * to hand out (`LEASED_UP_TO`) and whose top is kept for these fixed addresses, so that a dynamic
 * address can never take a fixed one while its container is stopped.
 */
import type { Manifest } from "../manifest/schema.ts";
import { byCodeUnit } from "./canonical.ts";

/** The last host number (of a /24) Podman hands out; the fixed addresses count down from the top. */
export const LEASED_UP_TO = 199;
/** Where the platform looks for a free /24 for a new app network: Podman's own default pool. */
export const SUBNET_POOL = { prefix: "10.89", first: 0, last: 255 } as const;

type Ipv4 = number;

export function parseIpv4(text: string): Ipv4 | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIpv4(value: Ipv4): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** An IPv4 CIDR: its first address and its size; undefined for anything else (IPv6 included). */
export function parseCidr(cidr: string): { base: Ipv4; size: number } | undefined {
  const [address, bits] = cidr.split("/");
  const ip = parseIpv4(address ?? "");
  const prefix = Number(bits);
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), size };
}

/** The containers of an app that its `host` exports name, in a stable order. */
export function exportedHosts(manifest: Manifest): string[] {
  const keys = new Set<string>();
  for (const exported of Object.values(manifest.exports)) if ("host" in exported) keys.add(exported.host);
  return [...keys].sort(byCodeUnit);
}

/**
 * The fixed address of an exported container on its app network: counted down from the last
 * usable address of the subnet, in the order of `exportedHosts`. Undefined when the container is
 * not exported, the subnet is unknown or not IPv4, or it has no room above Podman's part.
 */
export function fixedAddress(
  manifest: Manifest,
  key: string,
  subnet: string | undefined,
): string | undefined {
  const index = exportedHosts(manifest).indexOf(key);
  const range = subnet === undefined ? undefined : parseCidr(subnet);
  if (index < 0 || !range || range.size < 8) return undefined;
  const address = range.base + range.size - 2 - index;
  const leased = range.base + Math.min(LEASED_UP_TO, range.size - 2);
  return address > leased ? formatIpv4(address) : undefined;
}

/** The subnet, gateway and lease range of an app network on `subnet`; only a /24 gets them. */
export function networkSubnet(
  subnet: string | undefined,
): { subnet: string; gateway: string; lease_range: { start_ip: string; end_ip: string } } | undefined {
  const range = subnet === undefined ? undefined : parseCidr(subnet);
  if (!subnet || !range || range.size !== 256) return undefined;
  return {
    subnet,
    gateway: formatIpv4(range.base + 1),
    lease_range: { start_ip: formatIpv4(range.base + 2), end_ip: formatIpv4(range.base + LEASED_UP_TO) },
  };
}

/** Whether two IPv4 CIDRs overlap (anything unparsable is taken to overlap: never reuse it). */
export function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return a === b;
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

/** The first /24 of the pool that overlaps nothing in `used` (networks' subnets, host addresses). */
export function freeSubnet(used: readonly string[]): string | undefined {
  for (let n = SUBNET_POOL.first; n <= SUBNET_POOL.last; n++) {
    const candidate = `${SUBNET_POOL.prefix}.${n}.0/24`;
    if (!used.some((u) => overlaps(candidate, u))) return candidate;
  }
  return undefined;
}
