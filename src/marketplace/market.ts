/**
 * The marketplace on a node: the relays the operator chose, what the node learnt from them (kept in
 * the store), the apps it offers with their publisher and trust, and the verified package of every
 * marketplace app it installs. docs/marketplace.md tells the operator's side.
 *
 * Learning (refresh): for each relay, each question paged back through its history (queryPaged), in order — the operator's follows, mutes and chosen NIP-85
 * ranks; their follows' follow lists, reports and endorsements; the apps of the people they follow
 * and of installed apps' publishers (asked by author, so strangers' apps cannot crowd them out);
 * then everyone's apps, within the query limits; deletions by the publishers at hand. Every event
 * is verified as it arrives (relay.ts) and kept once per address (NIP-01's newest wins, except a
 * release: the first one seen for a version stays, and another one for it is refused). What
 * strangers publish is kept up to a bound (STRANGER_EVENTS).
 *
 * Installing (prepare): the app's three events are verified again from the store, the bundle is
 * read from the node's cache or its mirrors and checked against the signed length, SHA-256 and
 * BLAKE3, its manifest parsed and checked against the signed id and version; only then is it
 * unpacked, and offered to the lifecycle like any other source's manifest. Its files are checked
 * against the bundle at every use (packageOf).
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Filter } from "nostr-tools/filter";
import type { Dispatcher } from "undici";
import { writeFileAtomic } from "../catalog/files.ts";
import { MANIFEST_TARGET } from "../catalog/layout.ts";
import { type SignedFiles, unsignedCopyProblem } from "../catalog/node/verify-files.ts";
import { sha256Hex } from "../catalog/targets.ts";
import type { AppTree } from "../manifest/app-files.ts";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { AppPackage } from "../orchestrator/hooks.ts";
import type { AppRow, MarketEventRow, Store } from "../orchestrator/store.ts";
import type { Peer } from "../peers/peers.ts";
import { publicOnlyDispatcher } from "../system/public-address.ts";
import { BundleError, digestProblem, MAX_BUNDLE_BYTES, readBundle } from "./bundle.ts";
import { isDeleted, type Offer, offersOf, sourceOf } from "./discovery.ts";
import {
  type AppRecord,
  type AssetRecord,
  appAddress,
  type DeletionRecord,
  eventChecker,
  KINDS,
  type LabelRecord,
  type MarketRecord,
  PLATFORM,
  type ReleaseRecord,
  type ReportRecord,
  recordOf,
  releaseAddress,
  type SignedEvent,
} from "./events.ts";
import { fetchBundle } from "./fetch-bundle.ts";
import { MarketError, npub, parsePublicKey } from "./identity.ts";
import { checkNip05, fresh, type Nip05Check } from "./nip05.ts";
import {
  DEFAULT_QUERY_LIMITS,
  type QueryLimits,
  type QueryResult,
  queryPaged,
  type Refusals,
  relayUrlProblem,
} from "./relay.ts";
import {
  countFollowers,
  DEFAULT_THRESHOLD,
  inNetwork,
  type Opinions,
  type Trust,
  type TrustNetwork,
  trustOf,
} from "./trust.ts";

/** How many events from authors outside the operator's network (and installed apps) are kept. */
export const STRANGER_EVENTS = 6000;
/** How many of the operator's follows have their follow lists read (two hops). */
export const MAX_FOLLOWS_READ = 500;
/** How many publishers' NIP-05 handles one refresh checks at most (the most trusted first). */
export const MAX_NIP05_CHECKS = 50;
/** How many apps a listing shows at most, the most trusted first. */
export const MAX_LISTED = 2000;
const AUTHORS_PER_FILTER = 500;

const SETTING = { identity: "identity", threshold: "threshold", provider: "nip85-provider" } as const;

export type RelayStatus = {
  url: string;
  state: "ok" | "failing" | "never-refreshed";
  lastAttemptAt: number | null;
  lastSuccessAt: number | null;
  /** Events the last refresh kept (new to this node). */
  learnt: number;
  received: { messages: number; bytes: number };
  refused: Refusals;
  error: string | null;
};

export type OfferView = Offer & {
  pubkey: string;
  npub: string;
  trust: Trust;
  /** Why the release should worry the operator: reported by the network (deleted ones are not offered). */
  flags: string[];
  installed: { version: string; source: string } | undefined;
  /** The NIP-05 handle its publisher claims, and whether the node verified it. */
  nip05: Pick<Nip05Check, "handle" | "verified" | "reason"> | undefined;
};

/** A line for the operation's log: where a bundle came from, which source was dropped and why. */
export type Note = { level: "info" | "warn"; message: string };

export type Prepared = {
  text: string;
  manifest: Manifest;
  source: string;
  publisher: string;
  /** Where its bundle came from and which source was dropped, for the operation's log. */
  fetchLog: Note[];
};

type Package = { dir: string; files: SignedFiles };

export type MarketplaceOptions = {
  store: Store;
  /** Where bundles (by SHA-256) and unpacked packages live. */
  dir: string;
  log: { info: (message: string) => void; warn: (message: string) => void };
  clock?: () => number;
  refreshMs?: number;
  limits?: QueryLimits;
  /** Installed apps (to keep their publishers' events and verify their packages at start). */
  installed: () => AppRow[];
  /** How many strangers' events are kept (default STRANGER_EVENTS). */
  strangerEvents?: number;
  /** The nodes the operator chose to fetch bundles from first (src/peers/). */
  peers?: () => Peer[];
  /** How publishers' NIP-05 domains are reached (default: public addresses only). */
  nip05Dispatcher?: Dispatcher;
};

const parse = (row: MarketEventRow): MarketRecord | undefined => {
  const record = recordOf(JSON.parse(row.json) as SignedEvent);
  return "problem" in record ? undefined : record;
};

function addressOf(record: MarketRecord): string {
  const { event } = record;
  switch (record.kind) {
    case "app":
      return record.address;
    case "release":
      return record.address;
    case "contacts":
    case "mutes":
      return `${event.kind}:${event.pubkey}:`;
    case "assertion":
      return `${event.kind}:${event.pubkey}:${record.subject}`;
    default:
      return event.id;
  }
}

function refuse(refused: Refusals, kind: string, example: string): void {
  const entry = refused[kind];
  if (entry) entry.count += 1;
  else refused[kind] = { count: 1, example };
}

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

export class Marketplace {
  readonly #o: MarketplaceOptions;
  readonly #clock: () => number;
  readonly #statuses = new Map<string, RelayStatus>();
  readonly #packages = new Map<string, Package>();
  /** NIP-05 checks by `pubkey|handle`, each kept until it expires (nip05.ts). */
  readonly #nip05 = new Map<string, Nip05Check>();
  #listing: OfferView[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<RelayStatus[]> | undefined;

  constructor(options: MarketplaceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Verifies the packages of installed marketplace apps, then refreshes now and periodically. */
  async start(): Promise<void> {
    for (const app of this.#o.installed().filter((a) => a.source.startsWith("nostr:"))) {
      try {
        await this.#loadInstalled(app);
      } catch (error) {
        this.#o.log.warn(
          `marketplace: the package of ${app.id} ${app.version} cannot be used: ${(error as Error).message}`,
        );
      }
    }
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#o.refreshMs ?? 15 * 60_000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#refreshing;
  }

  // ——— settings ———

  relays(): RelayStatus[] {
    return this.#o.store.marketRelays().map(
      (url) =>
        this.#statuses.get(url) ?? {
          url,
          state: "never-refreshed",
          lastAttemptAt: null,
          lastSuccessAt: null,
          learnt: 0,
          received: { messages: 0, bytes: 0 },
          refused: {},
          error: null,
        },
    );
  }

  addRelay(url: string): boolean {
    const problem = relayUrlProblem(url);
    if (problem) throw new MarketError(problem);
    return this.#o.store.addMarketRelay(new URL(url).toString(), this.#clock());
  }

  removeRelay(url: string): boolean {
    const normal = URL.canParse(url) ? new URL(url).toString() : url;
    this.#statuses.delete(normal);
    return this.#o.store.removeMarketRelay(normal);
  }

  /** The operator's own public key (trust is computed from it), if set. */
  identity(): string | undefined {
    return this.#o.store.marketSetting(SETTING.identity);
  }

  setIdentity(key: string | undefined): string | undefined {
    const pubkey = key === undefined ? undefined : parsePublicKey(key);
    if (key !== undefined && !pubkey)
      throw new MarketError(
        `${JSON.stringify(key)} is not a Nostr public key: give your npub1… (or its 64 hex digits)`,
      );
    this.#o.store.setMarketSetting(SETTING.identity, pubkey);
    this.#listing = undefined;
    return pubkey;
  }

  threshold(): number {
    return Number(this.#o.store.marketSetting(SETTING.threshold) ?? DEFAULT_THRESHOLD);
  }

  setThreshold(score: number): void {
    if (!Number.isInteger(score) || score < 0 || score > 100)
      throw new MarketError(`the trust threshold is a whole number from 0 to 100, not ${score}`);
    this.#o.store.setMarketSetting(SETTING.threshold, String(score));
    this.#listing = undefined;
  }

  /** The NIP-85 provider whose ranks count, if the operator chose one. */
  provider(): string | undefined {
    return this.#o.store.marketSetting(SETTING.provider);
  }

  setProvider(key: string | undefined): void {
    const pubkey = key === undefined ? undefined : parsePublicKey(key);
    if (key !== undefined && !pubkey)
      throw new MarketError(`${JSON.stringify(key)} is not a Nostr public key (npub1…)`);
    this.#o.store.setMarketSetting(SETTING.provider, pubkey);
    this.#listing = undefined;
  }

  // ——— learning from relays ———

  /** Refreshes from every relay (one refresh at a time); resolves with their statuses, never rejects. */
  refresh(): Promise<RelayStatus[]> {
    if (this.#refreshing) return this.#refreshing;
    const running = (async () => {
      for (const url of this.#o.store.marketRelays()) await this.#refreshRelay(url);
      this.#prune();
      this.#listing = undefined;
      await this.#checkHandles();
      return this.relays();
    })();
    this.#refreshing = running;
    // Cleared once settled (never synchronously: a refresh of no relays settles at once).
    running
      .finally(() => {
        if (this.#refreshing === running) this.#refreshing = undefined;
      })
      .catch(() => {});
    return running;
  }

  async #refreshRelay(url: string): Promise<void> {
    const status: RelayStatus = {
      url,
      state: "ok",
      lastAttemptAt: this.#clock(),
      lastSuccessAt: this.#statuses.get(url)?.lastSuccessAt ?? null,
      learnt: 0,
      received: { messages: 0, bytes: 0 },
      refused: {},
      error: null,
    };
    const limits = this.#o.limits ?? DEFAULT_QUERY_LIMITS;
    // Queries overlap (an installed app's publisher is asked by name and among everyone): an event
    // is taken in once per refresh.
    const seen = new Set<string>();
    // Each filter is paged on its own: a relay caps every answer, and one `until` cannot page two
    // filters whose pages end at different times.
    const run = async (filters: Filter[]) => {
      for (const filter of filters) {
        if (status.error) return;
        const result = await queryPaged(url, filter, limits);
        this.#account(status, result);
        const fresh = result.events.filter((e) => !seen.has(e.id));
        for (const event of fresh) seen.add(event.id);
        status.learnt += this.#ingest(fresh, status.refused);
      }
    };
    const operator = this.identity();
    const provider = this.provider();
    if (operator)
      await run([
        { kinds: [KINDS.contacts, KINDS.mutes], authors: [operator] },
        ...(provider ? [{ kinds: [KINDS.assertion], authors: [provider], limit: limits.maxEvents }] : []),
      ]);
    const follows = this.#follows();
    const network = operator ? [operator, ...follows] : [];
    for (const authors of chunks(follows, AUTHORS_PER_FILTER))
      await run([{ kinds: [KINDS.contacts], authors }]);
    for (const authors of chunks(network, AUTHORS_PER_FILTER))
      await run([{ kinds: [KINDS.report, KINDS.label], authors, limit: limits.maxEvents }]);
    const vouched = [...new Set([...network, ...this.#installedPublishers()])];
    for (const authors of chunks(vouched, AUTHORS_PER_FILTER))
      await run([{ kinds: [KINDS.app, KINDS.release, KINDS.asset], "#f": [PLATFORM], authors }]);
    await run([
      { kinds: [KINDS.app, KINDS.release, KINDS.asset], "#f": [PLATFORM], limit: limits.maxEvents },
    ]);
    const publishers = [...new Set([...this.#installedPublishers(), ...this.#appAuthors(MAX_LISTED)])];
    for (const authors of chunks(publishers, AUTHORS_PER_FILTER))
      await run([{ kinds: [KINDS.deletion], authors }]);
    if (status.error) status.state = "failing";
    else status.lastSuccessAt = this.#clock();
    this.#statuses.set(url, status);
    const refusals = Object.entries(status.refused)
      .map(([kind, { count }]) => `${count} ${kind}`)
      .join(", ");
    const line = `marketplace relay ${url}: ${status.learnt} new events${refusals ? `; refused: ${refusals}` : ""}`;
    if (status.error) this.#o.log.warn(`${line}; ${status.error}`);
    else this.#o.log.info(line);
  }

  /** Verifies the NIP-05 handles publishers claim whose check expired, the most trusted first. */
  async #checkHandles(): Promise<void> {
    const due = new Map<string, { handle: string; pubkey: string }>();
    for (const offer of this.listing()) {
      const handle = offer.app.nip05;
      const key = `${offer.pubkey}|${handle}`;
      const kept = this.#nip05.get(key);
      if (!handle || due.has(key) || (kept && fresh(kept, this.#clock()))) continue;
      due.set(key, { handle, pubkey: offer.pubkey });
      if (due.size >= MAX_NIP05_CHECKS) break;
    }
    if (due.size === 0) return;
    const dispatcher = this.#o.nip05Dispatcher ?? publicOnlyDispatcher({ trustedHosts: new Set() });
    try {
      for (const [key, { handle, pubkey }] of due)
        this.#nip05.set(key, await checkNip05(handle, pubkey, dispatcher, this.#clock()));
    } finally {
      if (!this.#o.nip05Dispatcher) await dispatcher.close();
    }
    this.#listing = undefined;
  }

  #account(status: RelayStatus, result: QueryResult): void {
    status.received.messages += result.received.messages;
    status.received.bytes += result.received.bytes;
    for (const [kind, { count, example }] of Object.entries(result.refused)) {
      const entry = status.refused[kind];
      if (entry) entry.count += count;
      else status.refused[kind] = { count, example };
    }
    if (result.error && !result.complete) status.error = result.error;
  }

  /** Keeps what verified events mean to the marketplace; returns how many were new. */
  #ingest(events: readonly SignedEvent[], refused: Refusals): number {
    const rows: MarketEventRow[] = [];
    for (const event of events) {
      const record = recordOf(event);
      if ("problem" in record) {
        refuse(refused, "unusable event", record.problem);
        continue;
      }
      const address = addressOf(record);
      if (record.kind === "release") {
        const kept = this.#o.store.marketEventAt(address);
        const keptRecord = kept && parse(kept);
        if (keptRecord?.kind === "release" && keptRecord.assetId !== record.assetId) {
          refuse(
            refused,
            "changed release",
            `${record.appId} ${record.version} by ${npub(record.pubkey)} was published again with another bundle: the first one stays (a published version never changes)`,
          );
          continue;
        }
      }
      rows.push({
        id: event.id,
        kind: event.kind,
        pubkey: event.pubkey,
        address,
        createdAt: event.created_at,
        json: JSON.stringify(event),
      });
    }
    return this.#o.store.putMarketEvents(rows, (row) => row.kind !== KINDS.release, this.#clock()).length;
  }

  #prune(): void {
    const keep = [
      ...new Set([
        ...(this.identity() ? [this.identity() as string] : []),
        ...this.#follows(),
        ...this.#installedPublishers(),
      ]),
    ];
    const max = this.#o.strangerEvents ?? STRANGER_EVENTS;
    const removed = this.#o.store.pruneMarketEvents(keep, max);
    if (removed > 0)
      this.#o.log.info(`marketplace: forgot ${removed} events of strangers (at most ${max} are kept)`);
  }

  #listOf(kind: number, pubkey: string | undefined): string[] {
    if (!pubkey) return [];
    const row = this.#o.store.marketEventAt(`${kind}:${pubkey}:`);
    const record = row && parse(row);
    return record && (record.kind === "contacts" || record.kind === "mutes") ? record.keys : [];
  }

  /** The people the operator follows (the first MAX_FOLLOWS_READ of their list). */
  #follows(): string[] {
    return this.#listOf(KINDS.contacts, this.identity()).slice(0, MAX_FOLLOWS_READ);
  }

  #installedPublishers(): string[] {
    return this.#o
      .installed()
      .filter((a) => a.source.startsWith("nostr:"))
      .map((a) => parsePublicKey(a.source.slice("nostr:".length)))
      .filter((k): k is string => k !== undefined);
  }

  #appAuthors(limit: number): string[] {
    return [...new Set(this.#o.store.marketEvents([KINDS.app], { limit }).map((row) => row.pubkey))];
  }

  // ——— what is offered ———

  #records<K extends MarketRecord["kind"]>(kinds: number[], pubkeys?: readonly string[]) {
    return this.#o.store
      .marketEvents(kinds, pubkeys ? { pubkeys } : {})
      .map(parse)
      .filter((r): r is Extract<MarketRecord, { kind: K }> => r !== undefined);
  }

  #network(publishers: ReadonlySet<string>): TrustNetwork {
    const operator = this.identity();
    const follows = new Set(this.#follows());
    const provider = this.provider();
    const lists = (function* (store: Store, authors: string[]) {
      for (const row of store.iterateMarketEvents(KINDS.contacts, authors)) {
        const record = parse(row);
        if (record?.kind === "contacts") yield { author: record.pubkey, keys: record.keys };
      }
    })(this.#o.store, [...follows]);
    const assertions = new Map<string, number>();
    if (provider)
      for (const record of this.#records<"assertion">([KINDS.assertion], [provider]))
        if (record.kind === "assertion" && publishers.has(record.subject))
          assertions.set(record.subject, record.rank);
    return {
      operator,
      follows,
      mutes: new Set(this.#listOf(KINDS.mutes, operator)),
      followedBy: countFollowers(lists, follows, publishers),
      assertions,
      provider: provider ? npub(provider) : undefined,
    };
  }

  /** What the network said of a release, its app and its publisher. */
  #opinions(
    release: ReleaseRecord,
    reports: readonly ReportRecord[],
    labels: readonly LabelRecord[],
  ): Opinions {
    const about = (t: { type: string; value: string }) =>
      (t.type === "event" && t.value === release.event.id) ||
      (t.type === "address" &&
        (t.value === release.address || t.value === appAddress(release.pubkey, release.appId))) ||
      (t.type === "pubkey" && t.value === release.pubkey);
    return {
      reports: reports.flatMap((r) =>
        r.targets.filter(about).map((t) => ({ author: r.pubkey, reason: t.reason })),
      ),
      endorsers: new Set(labels.filter((l) => l.endorses.some(about)).map((l) => l.pubkey)),
    };
  }

  /** The apps offered, the most trusted first (at most MAX_LISTED), each with its trust and flags. */
  listing(): OfferView[] {
    if (this.#listing) return this.#listing;
    const apps = this.#records<"app">([KINDS.app]) as AppRecord[];
    const pubkeys = [...new Set(apps.map((a) => a.pubkey))];
    const records = {
      apps,
      releases: this.#records<"release">([KINDS.release], pubkeys) as ReleaseRecord[],
      assets: this.#records<"asset">([KINDS.asset], pubkeys) as AssetRecord[],
      deletions: this.#records<"deletion">([KINDS.deletion], pubkeys) as DeletionRecord[],
    };
    const { offers } = offersOf(records);
    const network = this.#network(new Set(pubkeys));
    const networkAuthors = network.operator ? [network.operator, ...network.follows] : [];
    const opinionEvents = this.#records([KINDS.report, KINDS.label], networkAuthors);
    const reports = opinionEvents.filter(
      (r): r is ReportRecord => r.kind === "report" && inNetwork(network, r.pubkey),
    );
    const labels = opinionEvents.filter(
      (r): r is LabelRecord => r.kind === "label" && inNetwork(network, r.pubkey),
    );
    const installed = new Map(this.#o.installed().map((a) => [a.id, a]));
    const threshold = this.threshold();
    const views = offers.map((offer): OfferView => {
      const opinions = this.#opinions(offer.release, reports, labels);
      const trust = trustOf(offer.app.pubkey, network, opinions, threshold);
      const row = installed.get(offer.app.id);
      return {
        ...offer,
        pubkey: offer.app.pubkey,
        npub: npub(offer.app.pubkey),
        trust,
        flags: trust.level === "reported" ? trust.reasons.filter((r) => r.startsWith("reported")) : [],
        installed: row ? { version: row.version, source: row.source } : undefined,
        nip05: offer.app.nip05
          ? (this.#nip05.get(`${offer.app.pubkey}|${offer.app.nip05}`) ?? {
              handle: offer.app.nip05,
              verified: false,
              reason: "not checked yet",
            })
          : undefined,
      };
    });
    views.sort(
      (a, b) =>
        b.trust.score - a.trust.score ||
        a.app.name.localeCompare(b.app.name) ||
        a.pubkey.localeCompare(b.pubkey),
    );
    this.#listing = views.slice(0, MAX_LISTED);
    return this.#listing;
  }

  /** The offers of an app id (one per publisher), or the one of a source (`nostr:npub…`). */
  offersOf(id: string, source?: string): OfferView[] {
    return this.listing().filter((o) => o.app.id === id && (source === undefined || o.source === source));
  }

  /** What should worry the operator about an installed marketplace app's release: deleted, reported. */
  flagsOf(app: Pick<AppRow, "id" | "source" | "version">): string[] {
    if (!app.source.startsWith("nostr:")) return [];
    const pubkey = parsePublicKey(app.source.slice("nostr:".length));
    if (!pubkey) return [];
    const row = this.#o.store.marketEventAt(releaseAddress(pubkey, app.id, app.version));
    const release = row && parse(row);
    if (release?.kind !== "release") return [];
    const flags: string[] = [];
    if (isDeleted(release, this.#records<"deletion">([KINDS.deletion], [pubkey]) as DeletionRecord[]))
      flags.push(`${app.id} ${app.version} was deleted by its publisher (NIP-09)`);
    const network = this.#network(new Set([pubkey]));
    const authors = network.operator ? [network.operator, ...network.follows] : [];
    const opinions = this.#records([KINDS.report, KINDS.label], authors);
    const trust = trustOf(
      pubkey,
      network,
      this.#opinions(
        release,
        opinions.filter((r): r is ReportRecord => r.kind === "report"),
        opinions.filter((r): r is LabelRecord => r.kind === "label"),
      ),
      this.threshold(),
    );
    if (trust.level === "reported") flags.push(...trust.reasons.filter((r) => r.startsWith("reported")));
    return flags;
  }

  // ——— installing ———

  /** The events of an offer, verified again from the store: signatures, author, and what points at what. */
  async #verifiedRelease(
    pubkey: string,
    id: string,
    version: string,
  ): Promise<{ release: ReleaseRecord; asset: AssetRecord }> {
    const checkEvent = await eventChecker();
    const again = (row: MarketEventRow | undefined, what: string): MarketRecord => {
      if (!row)
        throw new MarketError(
          `the ${what} of ${id} ${version} by ${npub(pubkey)} is not known to this node: refresh the marketplace`,
        );
      const checked = checkEvent(JSON.parse(row.json));
      if ("problem" in checked)
        throw new MarketError(`the ${what} of ${id} ${version}: ${checked.problem}: refused`);
      if (checked.event.pubkey !== pubkey)
        throw new MarketError(`the ${what} of ${id} ${version} is not signed by ${npub(pubkey)}: refused`);
      const record = recordOf(checked.event);
      if ("problem" in record) throw new MarketError(`${record.problem}: refused`);
      return record;
    };
    const release = again(this.#o.store.marketEventAt(releaseAddress(pubkey, id, version)), "release");
    if (release.kind !== "release") throw new MarketError(`no release of ${id} ${version}`);
    const asset = again(this.#o.store.marketEventAt(release.assetId), "bundle description (asset)");
    if (asset.kind !== "asset" || asset.appId !== id || asset.version !== version)
      throw new MarketError(
        `the asset the release of ${id} ${version} points at describes another app or version: refused`,
      );
    return { release, asset };
  }

  #bundleFile(sha256: string): string {
    return join(this.#o.dir, "bundles", `${sha256}.tar`);
  }

  #packageDir(pubkey: string, id: string, version: string): string {
    return join(this.#o.dir, "packages", pubkey, id, version);
  }

  /**
   * The verified bundle: from the node's cache if it still verifies, else from the operator's peers
   * or the release's mirrors; with what to tell the operator of where it came from.
   */
  async #bundle(asset: AssetRecord): Promise<{ bytes: Uint8Array; notes: Note[] }> {
    const file = this.#bundleFile(asset.bundle.sha256);
    const what = `the bundle of ${asset.appId} ${asset.version} (sha256 ${asset.bundle.sha256.slice(0, 12)}…)`;
    if (asset.bundle.size <= MAX_BUNDLE_BYTES) {
      const cached = await readFile(file).catch(() => undefined);
      if (cached && !digestProblem(cached, asset.bundle))
        return { bytes: cached, notes: [{ level: "info", message: `${what}: the node's verified copy` }] };
    }
    // Mirrors are strangers' URLs: public addresses only, but for the hosts of the operator's relays.
    const trustedHosts = new Set(
      this.#o.store.marketRelays().map((relay) => new URL(relay).hostname.replace(/^\[(.*)\]$/, "$1")),
    );
    const outcome = await fetchBundle(asset.urls, asset.bundle, {
      reach: { trustedHosts },
      peers: this.#o.peers?.() ?? [],
    });
    if (!("bytes" in outcome))
      throw new MarketError(
        `no peer or mirror of ${asset.appId} ${asset.version} served the signed bundle: ${outcome.problems.join("; ")}; nothing was installed`,
      );
    const notes: Note[] = outcome.problems.map((problem) => ({ level: "warn", message: problem }));
    notes.push({
      level: "info",
      message: `${what} served by ${outcome.fromPeer ? "peer" : "mirror"} ${outcome.url} (length, SHA-256 and BLAKE3 verified against the signed release)`,
    });
    for (const note of notes) this.#o.log[note.level](`marketplace: ${note.message}`);
    await writeFileAtomic(file, outcome.bytes, 0o600);
    return { bytes: outcome.bytes, notes };
  }

  /** Where the node keeps the verified bundle of a SHA-256 (what it serves its peers). */
  bundleFile(sha256: string): string {
    return this.#bundleFile(sha256);
  }

  /** Unpacks a verified bundle as the app's package and remembers its files for checks at use. */
  async #unpack(
    pubkey: string,
    id: string,
    version: string,
    bytes: Uint8Array,
  ): Promise<{ files: ReturnType<typeof readBundle>; dir: string }> {
    let files: ReturnType<typeof readBundle>;
    try {
      files = readBundle(bytes);
    } catch (error) {
      if (error instanceof BundleError)
        throw new MarketError(`the bundle of ${id} ${version} cannot be used: ${error.message}`);
      throw error;
    }
    const dir = this.#packageDir(pubkey, id, version);
    await rm(dir, { recursive: true, force: true });
    for (const file of files) {
      const path = join(dir, ...file.path.split("/"));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.bytes, { mode: 0o644 });
    }
    this.#packages.set(`${sourceOf(pubkey)}|${id}|${version}`, {
      dir,
      files: new Map(
        files.map((f) => [f.path, { length: f.bytes.length, hashes: { sha256: sha256Hex(f.bytes) } }]),
      ),
    });
    return { files, dir };
  }

  /**
   * Makes an offered release installable: verified events, verified bundle, valid manifest that is
   * the one signed (id and version). Throws a MarketError saying why not; nothing is installed then.
   */
  async prepare(offer: Pick<Offer, "app" | "release">): Promise<Prepared> {
    const { pubkey } = offer.app;
    const { appId: id, version } = offer.release;
    const { asset } = await this.#verifiedRelease(pubkey, id, version);
    const { bytes, notes } = await this.#bundle(asset);
    const { files } = await this.#unpack(pubkey, id, version, bytes);
    const text = Buffer.from(
      files.find((f) => f.path === MANIFEST_TARGET)?.bytes ?? new Uint8Array(),
    ).toString("utf8");
    const parsed = parseManifest(text, `${id}@${version} (${npub(pubkey)})/${MANIFEST_TARGET}`);
    if (!parsed.ok)
      throw new MarketError(
        `the manifest in the bundle of ${id} ${version} is invalid: ${parsed.issues[0]?.path}: ${parsed.issues[0]?.message}; nothing was installed`,
      );
    if (parsed.manifest.id !== id || parsed.manifest.version !== version)
      throw new MarketError(
        `the bundle's manifest says ${parsed.manifest.id} ${parsed.manifest.version} where its signed release says ${id} ${version}: refused`,
      );
    return {
      text,
      manifest: parsed.manifest,
      source: sourceOf(pubkey),
      publisher: npub(pubkey),
      fetchLog: notes,
    };
  }

  async #loadInstalled(app: AppRow): Promise<void> {
    const pubkey = parsePublicKey(app.source.slice("nostr:".length));
    if (!pubkey) throw new MarketError(`its source ${app.source} names no key`);
    const { asset } = await this.#verifiedRelease(pubkey, app.id, app.version);
    await this.#unpack(pubkey, app.id, app.version, (await this.#bundle(asset)).bytes);
  }

  /** The package of an installed marketplace app: its unpacked files, checked against the bundle at every use. */
  packageOf(app: Pick<AppRow, "id" | "source" | "version">): AppPackage | undefined {
    if (!app.source.startsWith("nostr:")) return undefined;
    const pkg = this.#packages.get(`${app.source}|${app.id}|${app.version}`);
    if (!pkg) return undefined;
    return {
      dir: pkg.dir,
      verifyCopy: (from: string, tree: AppTree) => {
        const problem = unsignedCopyProblem(pkg.files, from, tree);
        if (!problem) return undefined;
        this.#o.log.warn(
          `marketplace: the node's copy of ${app.id} ${app.version} changed on disk: ${problem}`,
        );
        this.#packages.delete(`${app.source}|${app.id}|${app.version}`);
        void this.#loadInstalled(app as AppRow).catch(() => {});
        return `the node's copy of ${app.id} ${app.version} (${app.source}) is not its signed bundle: ${problem}: refused; it is being unpacked again from the verified bundle, retry once it is (archy retry ${app.id})`;
      },
    };
  }
}
