/**
 * Whether an address is on the public internet, and an HTTP dispatcher that connects only to such
 * addresses (or to hosts the operator named). A node downloads from URLs that strangers wrote (a
 * marketplace release's mirrors): without this, a release could make the node send requests to its
 * own loopback services, its LAN's router or a cloud metadata endpoint (request forgery), even if
 * the answer is then thrown away. The check is made on the address actually connected to, after DNS,
 * so a name that resolves to a private address (or is rebound to one) is refused too.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Agent } from "undici";
import { canonicalIp } from "../manifest/ip-address.ts";

/** Special-purpose ranges (RFC 6890 and its IPv6 twin): loopback, private, link-local, CGNAT, … */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  NOT_PUBLIC.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  NOT_PUBLIC.addSubnet(network, prefix, "ipv6");

/** True for an address of the public internet; false for special-purpose ones and for non-addresses. */
export function isPublicAddress(address: string): boolean {
  const canonical = canonicalIp(address); // an IPv4-mapped IPv6 address is checked as IPv4
  const family = isIP(canonical);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(canonical, family === 4 ? "ipv4" : "ipv6");
}

/** Hosts (names or addresses, as written in URLs) that may be reached whatever they resolve to. */
export type ReachPolicy = { trustedHosts: ReadonlySet<string> };

/** Why `url` may not be fetched under `policy` before any connection, or undefined. */
export function refusedUrl(url: URL, policy: ReachPolicy): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (policy.trustedHosts.has(host)) return undefined;
  if (isIP(host) !== 0 && !isPublicAddress(host))
    return `${host} is not a public address (loopback, private or link-local): a node downloads from such a mirror only on a host it has a relay on`;
  return undefined;
}

/**
 * A dispatcher whose connections go only to public addresses, except for trusted hosts: names are
 * resolved here and every address checked before the socket is opened.
 */
export function publicOnlyDispatcher(policy: ReachPolicy): Agent {
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const usable = policy.trustedHosts.has(hostname)
        ? addresses
        : addresses.filter((a) => isPublicAddress(a.address));
      const [first] = usable;
      if (!first)
        return callback(
          Object.assign(
            new Error(
              `${hostname} resolves to no public address (${addresses.map((a) => a.address).join(", ")}): a node downloads from such a mirror only on a host it has a relay on`,
            ),
            { code: "ENOTPUBLIC" },
          ),
          "",
          0,
        );
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      return callback(null, first.address, first.family);
    });
  };
  return new Agent({ connect: { lookup } });
}
