/**
 * The TLS contexts the daemon serves (docs/app-access.md#https). With the node's authority: one
 * certificate for the node's own names and addresses (also what a client without SNI gets), and
 * one per app host, issued on first use through SNI for the hosts of installed apps only (a name
 * nobody installed costs no signature) and cached. Browsers do not accept a wildcard under a
 * top-level name such as `*.localhost`, and one wildcard covers one level only
 * (`admin.my-app.<node>` is two), hence a certificate per host. Certificates live 90 days and
 * are replaced once 30 are left, checked at every handshake and hourly; the leaf key is made at
 * each start and never written down. With the operator's own certificate, that one serves every
 * name.
 */
import { createSecureContext, type SecureContext } from "node:tls";
import type { NodeAuthority } from "./authority.ts";
import {
  type CryptoKey,
  certificatePem,
  issueServerCertificate,
  newKeyPair,
  privateKeyPem,
  type SubjectNames,
} from "./x509.ts";

export const LEAF_DAYS = 90;
export const LEAF_RENEW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

type Issued = { context: SecureContext; cert: string; renewAt: number; names: string };

export type ServedNames = {
  /** The node's own names and addresses (they change: DHCP, a new interface). */
  node: () => SubjectNames;
  /** Whether `name` is the host of an installed app's interface. */
  isAppHost: (name: string) => boolean;
};

/** Contexts signed by the node's authority. */
export class NodeCertificates {
  readonly #authority: NodeAuthority;
  readonly #names: ServedNames;
  readonly #clock: () => number;
  readonly #leaf: { publicKey: CryptoKey; keyPem: string };
  readonly #apps = new Map<string, Issued>();
  readonly #pending = new Map<string, Promise<Issued>>();
  #node: Issued;

  private constructor(
    authority: NodeAuthority,
    names: ServedNames,
    clock: () => number,
    leaf: { publicKey: CryptoKey; keyPem: string },
    node: Issued,
  ) {
    this.#authority = authority;
    this.#names = names;
    this.#clock = clock;
    this.#leaf = leaf;
    this.#node = node;
  }

  static async create(authority: NodeAuthority, names: ServedNames, clock: () => number = Date.now) {
    const keys = await newKeyPair();
    const leaf = { publicKey: keys.publicKey, keyPem: await privateKeyPem(keys.privateKey) };
    const node = await issue(authority, leaf, names.node(), clock());
    return new NodeCertificates(authority, names, clock, leaf, node);
  }

  /** The node's own context (clients without SNI, or naming the node). */
  get nodeContext(): SecureContext {
    return this.#node.context;
  }

  /** The node's certificate chain and key, for the server's defaults (what a client without SNI gets). */
  get nodeCertificate(): { cert: string; key: string } {
    return { cert: this.#node.cert, key: this.#leaf.keyPem };
  }

  /**
   * Renews the node's certificate when it nears its end or its names changed (an address came or
   * went); true when it did (the server's defaults must then be set again).
   */
  async refresh(): Promise<boolean> {
    const names = this.#names.node();
    if (this.#node.renewAt > this.#clock() && this.#node.names === key(names)) return false;
    this.#node = await issue(this.#authority, this.#leaf, names, this.#clock());
    return true;
  }

  /** The context for a handshake naming `servername`. */
  async contextFor(servername: string): Promise<SecureContext> {
    const name = servername.toLowerCase();
    if (!this.#names.isAppHost(name)) return this.#node.context;
    const held = this.#apps.get(name);
    if (held && held.renewAt > this.#clock()) return held.context;
    let pending = this.#pending.get(name);
    if (!pending) {
      pending = issue(this.#authority, this.#leaf, { dns: [name], ips: [] }, this.#clock());
      this.#pending.set(name, pending);
    }
    try {
      const issued = await pending;
      this.#apps.set(name, issued);
      return issued.context;
    } finally {
      this.#pending.delete(name);
    }
  }

  /** Node's `SNICallback`. */
  sniCallback = (servername: string, done: (error: Error | null, context?: SecureContext) => void): void => {
    this.contextFor(servername).then(
      (context) => done(null, context),
      (error: Error) => done(error),
    );
  };
}

function key(names: SubjectNames): string {
  return JSON.stringify([[...names.dns].sort(), [...names.ips].sort()]);
}

async function issue(
  authority: NodeAuthority,
  leaf: { publicKey: CryptoKey; keyPem: string },
  names: SubjectNames,
  now: number,
): Promise<Issued> {
  const certificate = await issueServerCertificate(authority, leaf.publicKey, names, now, LEAF_DAYS);
  const cert = `${certificatePem(certificate)}${authority.pem}`;
  return {
    context: createSecureContext({ cert, key: leaf.keyPem }),
    cert,
    renewAt: now + (LEAF_DAYS - LEAF_RENEW_DAYS) * DAY_MS,
    names: key(names),
  };
}
