/**
 * The node's multicast DNS responder (docs/app-access.md#mdns), over `multicast-dns` (a small,
 * pure-JavaScript implementation of the wire protocol, used by most Node mDNS libraries): UDP 5353
 * with SO_REUSEADDR, so it shares the port with Avahi where Avahi runs, and no privilege (5353 is
 * not a privileged port). One socket per IPv4 link of the host, its multicast membership and
 * outgoing interface that link's, answering only questions from that link's subnet with that
 * link's addresses: a client is never given an address it cannot reach. Only the links the daemon
 * listens on are answered on (all of them when it listens on 0.0.0.0): an address where nothing
 * listens would lead nowhere. Links that come and go are followed. Off unless the operator turns
 * it on.
 */
import type { RemoteInfo } from "node:dgram";
import { networkInterfaces } from "node:os";
import makeMdns from "multicast-dns";
import type { Logger } from "pino";
import { type MdnsLink, mdnsAnswers, mdnsLinks, onSubnet } from "./mdns-answers.ts";

/** The mDNS port: a query from elsewhere is a legacy unicast one (a plain resolver), answered to its sender. */
export const MDNS_PORT = 5353;
/** RFC 6762 §6.7: answers to legacy unicast queries live ten seconds at most. */
const LEGACY_TTL_SECONDS = 10;
/** How often links are looked at again (an interface that came up, an address that changed). */
const LINKS_EVERY_MS = 10_000;

type Responder = { mdns: makeMdns.MulticastDNS; link: MdnsLink };

export type MdnsOptions = {
  /** The names to answer for, as they are now (lower case, no trailing dot). */
  names: () => ReadonlySet<string>;
  /** The address the daemon listens on: its link alone is answered on, unless it is 0.0.0.0 or ::. */
  listenHost: string;
  logger: Logger;
};

export class MdnsResponder {
  readonly #options: MdnsOptions;
  readonly #responders = new Map<string, Responder>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MdnsOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.#sync();
    if (this.#responders.size === 0)
      this.#options.logger.warn(
        `mDNS: the daemon listens on ${this.#options.listenHost}, on no link of the LAN: publish nothing until it listens on one (--listen 0.0.0.0:7780)`,
      );
    this.#timer = setInterval(() => void this.#sync(), LINKS_EVERY_MS);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all([...this.#responders.keys()].map((address) => this.#drop(address)));
  }

  /** One responder per IPv4 link present now; those of links gone are closed. */
  async #sync(): Promise<void> {
    const { listenHost } = this.#options;
    const everywhere = listenHost === "0.0.0.0" || listenHost === "::";
    const links = mdnsLinks(networkInterfaces()).filter((link) => everywhere || link.v4 === listenHost);
    const present = new Set(links.map((link) => link.v4));
    for (const address of this.#responders.keys()) if (!present.has(address)) await this.#drop(address);
    await Promise.all(
      links.map(async (link) => {
        const held = this.#responders.get(link.v4);
        if (held) {
          held.link = link; // its IPv6 addresses may have changed
          return;
        }
        await this.#open(link);
      }),
    );
  }

  #open(link: MdnsLink): Promise<void> {
    const { logger } = this.#options;
    const mdns = makeMdns({ interface: link.v4, bind: "0.0.0.0", port: MDNS_PORT, reuseAddr: true });
    const responder: Responder = { mdns, link };
    this.#responders.set(link.v4, responder);
    mdns.on("warning", (error: Error) => logger.debug({ err: error }, `mDNS on ${link.v4}`));
    mdns.on("query", (query, rinfo) => this.#answer(responder, query, rinfo));
    return new Promise((resolve) => {
      mdns.once("ready", () => {
        logger.info(`mDNS: answering for the node's .local names on ${link.v4}`);
        resolve();
      });
      mdns.once("error", (error: Error) => {
        logger.warn(
          `mDNS cannot listen on UDP ${MDNS_PORT} for ${link.v4}: ${error.message}; names under .local are not published there (docs/app-access.md#mdns)`,
        );
        this.#responders.delete(link.v4);
        mdns.destroy();
        resolve();
      });
    });
  }

  #answer(responder: Responder, query: makeMdns.QueryPacket, rinfo: RemoteInfo): void {
    const { link, mdns } = responder;
    // Every socket on 5353 hears every link's queries: each answers its own link only.
    if (!onSubnet(rinfo.address, link.v4, link.netmask)) return;
    const answers = mdnsAnswers(
      (query.questions ?? []).map((q) => ({ name: q.name, type: q.type })),
      this.#options.names(),
      { v4: [link.v4], v6: link.v6 },
    );
    if (answers.length === 0) return;
    if (rinfo.port === MDNS_PORT) {
      mdns.respond({ answers }, () => {});
      return;
    }
    // A legacy resolver (dig, a plain stub): to its own port, with its id and question, short-lived.
    mdns.respond(
      {
        id: query.id,
        questions: query.questions,
        answers: answers.map((answer) => ({ ...answer, ttl: LEGACY_TTL_SECONDS, flush: false })),
      },
      { port: rinfo.port, address: rinfo.address },
      () => {},
    );
  }

  #drop(address: string): Promise<void> {
    const held = this.#responders.get(address);
    this.#responders.delete(address);
    return new Promise((resolve) => (held ? held.mdns.destroy(() => resolve()) : resolve()));
  }
}
