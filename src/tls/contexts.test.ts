import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CA_CERT_FILE, loadAuthority } from "./authority.ts";
import { LEAF_DAYS, LEAF_RENEW_DAYS, NODE_CERTIFICATE_FILE, NodeCertificates } from "./contexts.ts";
import type { SubjectNames } from "./x509.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const root = mkdtempSync(join(tmpdir(), "archy-tls-"));
after(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
const NOW = Date.parse("2026-12-01T00:00:00Z");
const names = (dns: string[]): { node: () => SubjectNames; isAppHost: () => boolean } => ({
  node: () => ({ dns, ips: ["127.0.0.1"] }),
  isAppHost: () => false,
});

/** A start of the daemon's TLS: the authority from `dir` (made there the first time), then the node's certificate. */
async function start(dir: string, dns = ["node.test"], now = NOW) {
  const authority = await loadAuthority(dir, "node.test", now, () => {});
  return NodeCertificates.create(authority, names(dns), dir, () => now);
}

const leafOf = (certificates: NodeCertificates) => new X509Certificate(certificates.nodeCertificate.cert);

test("a restart serves the node's certificate and key kept from the last start: nothing is signed again", async () => {
  const dir = join(root, `d${dirs++}`);
  const first = await start(dir);
  assert.equal(statSync(join(dir, NODE_CERTIFICATE_FILE)).mode & 0o777, 0o600, "the leaf key is kept 0600");
  const second = await start(dir);
  assert.equal(second.nodeCertificate.cert, first.nodeCertificate.cert);
  assert.equal(second.nodeCertificate.key, first.nodeCertificate.key);
  assert.ok(leafOf(second).checkIssued(new X509Certificate(readFileSync(join(dir, CA_CERT_FILE)))));
});

test("a kept certificate is issued anew when the node's names changed, renewal is due, or the file was altered", async () => {
  const dir = join(root, `d${dirs++}`);
  const first = await start(dir);
  const renamed = await start(dir, ["other.test"]);
  assert.notEqual(renamed.nodeCertificate.cert, first.nodeCertificate.cert, "new names: a new certificate");
  assert.match(leafOf(renamed).subjectAltName ?? "", /DNS:other\.test/);
  const due = NOW + (LEAF_DAYS - LEAF_RENEW_DAYS) * DAY_MS + 1;
  const later = await start(dir, ["other.test"], due);
  assert.notEqual(
    later.nodeCertificate.cert,
    renamed.nodeCertificate.cert,
    "due for renewal: a new certificate",
  );
  // A certificate from elsewhere (here: the kept one with another key) is not served.
  const file = join(dir, NODE_CERTIFICATE_FILE);
  const saved = JSON.parse(readFileSync(file, "utf8")) as { key: string };
  const foreign = JSON.parse(readFileSync(join(root, "d0", NODE_CERTIFICATE_FILE), "utf8")) as {
    key: string;
  };
  writeFileSync(file, JSON.stringify({ ...saved, key: foreign.key }));
  const altered = await start(dir, ["other.test"], due);
  assert.notEqual(
    altered.nodeCertificate.key,
    foreign.key,
    "a key that is not the certificate's is not used",
  );
  assert.ok(
    leafOf(altered).checkPrivateKey(
      (await import("node:crypto")).createPrivateKey(altered.nodeCertificate.key),
    ),
  );
});

test("a new authority issues the node's certificate anew: one signed by the old authority is never served", async () => {
  const dir = join(root, `d${dirs++}`);
  const first = await start(dir);
  rmSync(join(dir, CA_CERT_FILE));
  const second = await start(dir);
  const authority = new X509Certificate(readFileSync(join(dir, CA_CERT_FILE)));
  assert.notEqual(second.nodeCertificate.cert, first.nodeCertificate.cert);
  assert.ok(leafOf(second).checkIssued(authority));
  assert.ok(leafOf(second).verify(authority.publicKey));
});
