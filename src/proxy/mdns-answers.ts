/**
 * What the node answers to multicast DNS (docs/app-access.md#mdns): for a name it publishes — its
 * own name under `.local` and every app host under it — its addresses on the link the question came
 * from; for anything else, nothing (other responders, Avahi among them, answer for their names). Pure.
 */
import type { NetworkInterfaceInfo } from "node:os";
import type { RouteTable } from "./hosts.ts";

/** How long a resolver may keep an answer (RFC 6762 §10: 120 s for host records). */
export const MDNS_TTL_SECONDS = 120;

/** A question as multicast-dns decodes it. */
export type MdnsQuestion = { name: string; type: string };
/** An address record to answer with. */
export type MdnsAnswer = { name: string; type: "A" | "AAAA"; ttl: number; data: string; flush: true };

/** The names the node publishes: `<node>.local` and each app host (`<app>.<node>.local`, `<iface>.<app>.<node>.local`). */
export function publishedNames(nodeName: string, routes: RouteTable): Set<string> {
  const names = new Set([nodeName]);
  for (const prefix of routes.keys()) names.add(`${prefix}.${nodeName}`);
  return names;
}

/** The answers to `questions` for names in `published`, with the link's addresses. */
export function mdnsAnswers(
  questions: readonly MdnsQuestion[],
  published: ReadonlySet<string>,
  link: { v4: readonly string[]; v6: readonly string[] },
): MdnsAnswer[] {
  const answers: MdnsAnswer[] = [];
  for (const question of questions) {
    const name = question.name.toLowerCase().replace(/\.$/, "");
    if (!published.has(name)) continue;
    const any = question.type === "ANY";
    if (any || question.type === "A")
      for (const data of link.v4) answers.push({ name, type: "A", ttl: MDNS_TTL_SECONDS, data, flush: true });
    if (any || question.type === "AAAA")
      for (const data of link.v6)
        answers.push({ name, type: "AAAA", ttl: MDNS_TTL_SECONDS, data, flush: true });
  }
  return answers;
}

/** Whether `address` (IPv4) is on the subnet of `own` with `netmask`. */
export function onSubnet(address: string, own: string, netmask: string): boolean {
  const bits = (value: string) => value.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
  const mask = bits(netmask);
  // Bitwise AND on 32-bit values, kept unsigned.
  return (bits(address) & mask) >>> 0 === (bits(own) & mask) >>> 0;
}

/** A link the node is on: one IPv4 address of an interface, with that interface's global IPv6 addresses. */
export type MdnsLink = { v4: string; netmask: string; v6: string[] };

/** The links to answer on: every IPv4 address of an interface that is not loopback. */
export function mdnsLinks(interfaces: Record<string, NetworkInterfaceInfo[] | undefined>): MdnsLink[] {
  const links: MdnsLink[] = [];
  for (const addresses of Object.values(interfaces)) {
    const list = addresses ?? [];
    const v6 = list
      .filter((a) => a.family === "IPv6" && !a.internal && !a.address.toLowerCase().startsWith("fe80"))
      .map((a) => a.address);
    for (const a of list)
      if (a.family === "IPv4" && !a.internal) links.push({ v4: a.address, netmask: a.netmask, v6 });
  }
  return links;
}
