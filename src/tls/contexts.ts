/**
 * The TLS contexts the daemon serves (docs/app-access.md#https). With the node's authority: one
 * certificate for the node's own names and addresses (also what a client without SNI gets), and
 * one per app host, issued on first use through SNI for the hosts of installed apps only (a name
 * nobody installed costs no signature) and cached. Browsers do not accept a wildcard under a
 * top-level name such as `*.localhost`, and one wildcard covers one level only
 * (`admin.my-app.<node>` is two), hence a certificate per host. Certificates live 90 days and
 * are replaced once 30 are left, checked at every handshake and hourly. With the operator's own
 * certificate, that one serves every name.
 *
 * The node's certificate and the leaf key (one for all the node's certificates) are kept in
 * NODE_CERTIFICATE_FILE (0600, beside the authority's key in the 0700 `tls` directory) and used
 * again at the next start when the current authority signed them, the key is theirs, their names
 * are the node's and they are not due for renewal: then a start signs nothing and loads no X.509
 * library (`node:crypto` checks them); @peculiar/x509 (x509.ts) loads at the first signature.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import { type NodeAuthority, writeAtomically } from "./authority.ts";
import type { CryptoKey, SubjectNames } from "./x509.ts";

export const LEAF_DAYS = 90;
export const LEAF_RENEW_DAYS = 30;
/** The node's certificate, its leaf key and the names it was issued for, in the `tls` directory. */
export const NODE_CERTIFICATE_FILE = "node-certificate.json";
const DAY_MS = 24 * 60 * 60 * 1000;

type Issued = { context: SecureContext; cert: string; renewAt: number; names: string };
/** The leaf key, in PEM; its public half as WebCrypto wants it for signing, made on first use. */
type Leaf = { keyPem: string; publicKey: () => Promise<CryptoKey> };
/** What NODE_CERTIFICATE_FILE holds. */
type SavedNode = { names: string; leaf: string; key: string };

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
  readonly #file: string;
  readonly #leaf: Leaf;
  readonly #apps = new Map<string, Issued>();
  readonly #pending = new Map<string, Promise<Issued>>();
  #node: Issued;

  private constructor(
    authority: NodeAuthority,
    names: ServedNames,
    clock: () => number,
    file: string,
    leaf: Leaf,
    node: Issued,
  ) {
    this.#authority = authority;
    this.#names = names;
    this.#clock = clock;
    this.#file = file;
    this.#leaf = leaf;
    this.#node = node;
  }

  /** The node's certificates; `dir` is the authority's (`<state>/tls`), where the node's is kept. */
  static async create(
    authority: NodeAuthority,
    names: ServedNames,
    dir: string,
    clock: () => number = Date.now,
  ): Promise<NodeCertificates> {
    const file = join(dir, NODE_CERTIFICATE_FILE);
    const wanted = names.node();
    const kept = await readKept(file, authority, key(wanted), clock());
    if (kept) return new NodeCertificates(authority, names, clock, file, kept.leaf, kept.node);
    const x509 = await import("./x509.ts");
    const keys = await x509.newKeyPair();
    const leaf = { keyPem: await x509.privateKeyPem(keys.privateKey), publicKey: async () => keys.publicKey };
    const node = await issue(authority, leaf, wanted, clock());
    await save(file, node, leaf);
    return new NodeCertificates(authority, names, clock, file, leaf, node);
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
    await save(this.#file, this.#node, this.#leaf);
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
  leaf: Leaf,
  names: SubjectNames,
  now: number,
): Promise<Issued> {
  const x509 = await import("./x509.ts");
  const certificate = await x509.issueServerCertificate(
    await authority.signer(),
    await leaf.publicKey(),
    names,
    now,
    LEAF_DAYS,
  );
  return issued(
    x509.certificatePem(certificate),
    authority,
    leaf.keyPem,
    key(names),
    now + (LEAF_DAYS - LEAF_RENEW_DAYS) * DAY_MS,
  );
}

function issued(
  leafPem: string,
  authority: NodeAuthority,
  keyPem: string,
  names: string,
  renewAt: number,
): Issued {
  const cert = `${leafPem}${authority.pem}`;
  return { context: createSecureContext({ cert, key: keyPem }), cert, renewAt, names };
}

async function save(file: string, node: Issued, leaf: Leaf): Promise<void> {
  const saved: SavedNode = { names: node.names, leaf: node.cert, key: leaf.keyPem };
  await writeAtomically(file, `${JSON.stringify(saved)}\n`, 0o600);
}

/**
 * The node's certificate and leaf key kept in `file`, if they can serve now: signed by this
 * authority (a new one issues anew), the key theirs, issued for `names`, not due for renewal.
 */
async function readKept(
  file: string,
  authority: NodeAuthority,
  names: string,
  now: number,
): Promise<{ leaf: Leaf; node: Issued } | undefined> {
  try {
    const saved = JSON.parse(await readFile(file, "utf8")) as Partial<SavedNode>;
    if (typeof saved.leaf !== "string" || typeof saved.key !== "string" || saved.names !== names)
      return undefined;
    const certificate = new X509Certificate(saved.leaf);
    const privateKey = createPrivateKey(saved.key);
    const renewAt = certificate.validToDate.getTime() - LEAF_RENEW_DAYS * DAY_MS;
    if (
      renewAt <= now ||
      !certificate.checkIssued(authority.certificate) ||
      !certificate.verify(authority.certificate.publicKey) ||
      !certificate.checkPrivateKey(privateKey)
    )
      return undefined;
    const keyPem = saved.key;
    let publicKey: Promise<CryptoKey> | undefined;
    const leaf: Leaf = {
      keyPem,
      publicKey: () => {
        publicKey ??= import("./x509.ts").then((x509) => x509.publicKeyOf(keyPem));
        return publicKey;
      },
    };
    return { leaf, node: issued(certificate.toString(), authority, keyPem, names, renewAt) };
  } catch {
    return undefined; // missing or damaged: issued anew
  }
}
