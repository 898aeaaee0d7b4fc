/**
 * App access with the operator's own certificate (docs/app-access.md#your-own-certificate): the
 * node serves the given chain for its host and every app host, makes no authority of its own (no
 * key written, nothing at /ca.crt or /trust), and the proxy works as with the node's authority.
 * The operator's certificate here is made by a stand-in authority of the test's own.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect } from "node:tls";
import {
  certificatePem,
  createAuthority,
  issueServerCertificate,
  newKeyPair,
  privateKeyPem,
} from "../../src/tls/x509.ts";
import { ok, setup, startDaemon, type TestDaemon } from "../api/support.ts";
import { call } from "./client.ts";
import { startUpstream, type Upstream } from "./upstream.ts";

const NODE = "node.test";
const APP = "px-own";

let dir: string;
let daemon: TestDaemon;
let upstream: Upstream;
let operatorCa: string;
let leafFingerprint: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "archy-own-cert-"));
  const now = Date.now();
  const authority = await createAuthority("Operator's CA", now, 30);
  const leafKeys = await newKeyPair();
  const leaf = await issueServerCertificate(
    authority,
    leafKeys.publicKey,
    { dns: [NODE, `*.${NODE}`], ips: [] },
    now,
    30,
  );
  operatorCa = certificatePem(authority.certificate);
  leafFingerprint = new X509Certificate(certificatePem(leaf)).fingerprint256;
  writeFileSync(join(dir, "chain.pem"), certificatePem(leaf));
  writeFileSync(join(dir, "key.pem"), await privateKeyPem(leafKeys.privateKey), { mode: 0o600 });
  upstream = await startUpstream();
  daemon = await startDaemon({
    apps: {
      [APP]: `manifest: 1
id: ${APP}
version: 1.0.0
name: ${APP}
description: A stand-in app behind the operator's own certificate
containers:
  web:
    image: localhost/archy-test/busybox:1
    ports:
      - { container: 8080, host: ${upstream.port} }
interfaces:
  ui: { container: web, port: 8080 }
`,
    },
    access: {
      nodeName: NODE,
      tls: true,
      certificate: { cert: join(dir, "chain.pem"), key: join(dir, "key.pem") },
      redirectHttp: false,
    },
  });
  await setup(daemon.port);
});

after(async () => {
  await daemon?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("the operator's own certificate is served for the node and its app hosts; the node makes no authority", async () => {
  const bearer = readFileSync(daemon.tokenFile, "utf8").trim();
  await ok(daemon.port, "package.install", { id: APP }, { bearer });
  // Both handshakes verify with the operator's CA alone (call rejects otherwise).
  const node = await call(daemon.port, NODE, "/healthz", { ca: operatorCa });
  assert.equal(node.status, 200);
  const app = await call(daemon.port, `${APP}.${NODE}`, "/", { ca: operatorCa });
  assert.equal(app.status, 302, "an app host still sends a visitor without a session to the login");
  assert.equal(new URL(String(app.headers.location)).origin, `https://${NODE}:${daemon.port}`);
  const fingerprint = await new Promise<string>((resolve, reject) => {
    const socket = connect(
      { host: "127.0.0.1", port: daemon.port, servername: `${APP}.${NODE}`, ca: operatorCa },
      () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? "");
        socket.end();
      },
    );
    socket.once("error", reject);
  });
  assert.equal(fingerprint, leafFingerprint, "the app host presents the operator's certificate itself");
  assert.equal(existsSync(join(daemon.dataDir, "state", "tls", "ca.key")), false, "no authority key is made");
  for (const path of ["/ca.crt", "/trust"]) {
    const reply = await call(daemon.port, NODE, path, { ca: operatorCa });
    assert.equal(reply.status, 404, `${path}: nothing to trust but the operator's own CA`);
  }
});
