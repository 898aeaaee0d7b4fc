/**
 * The /trust page's command for Chromium on Linux (docs/app-access.md#trusting-the-nodes-authority),
 * run as a user would: Debian's certutil (libnss3-tools, installed by host setup) into the NSS
 * database under a home of the test's own, then Debian's Chromium with that home opening an HTTPS
 * server whose certificate the node's authority issued. Before the command: a certificate error;
 * after it: the page.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { CA_DOWNLOAD_NAME, escapeHtml, NSS_TRUST_COMMAND, trustPage } from "../../src/proxy/pages.ts";
import {
  certificatePem,
  createAuthority,
  issueServerCertificate,
  newKeyPair,
  privateKeyPem,
} from "../../src/tls/x509.ts";
import { CHROMIUM, CHROMIUM_FLAGS } from "../web/browser.ts";

let home: string;
let server: Server;
let url: string;

before(async () => {
  home = mkdtempSync("/tmp/archy-trust-nss-");
  const now = Date.now();
  const authority = await createAuthority("trust-nss test node", now, 2);
  const leaf = await newKeyPair();
  const certificate = await issueServerCertificate(
    authority,
    leaf.publicKey,
    { dns: ["localhost"], ips: [] },
    now,
    1,
  );
  writeFileSync(join(home, CA_DOWNLOAD_NAME), certificatePem(authority.certificate));
  server = createServer(
    { cert: certificatePem(certificate), key: await privateKeyPem(leaf.privateKey) },
    (_request, response) => response.writeHead(200, { "content-type": "text/plain" }).end("trusted\n"),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `https://localhost:${(server.address() as AddressInfo).port}/`;
});

after(async () => {
  server?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** What Chromium, run with the test's home (where it reads ~/.pki/nssdb), shows at `url`. */
async function openWithHome(): Promise<{ text: string } | { error: string }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_FLAGS,
    env: { ...process.env, HOME: home },
  });
  try {
    const page = await browser.newPage();
    try {
      await page.goto(url);
      return { text: (await page.textContent("body")) ?? "" };
    } catch (error) {
      return { error: (error as Error).message };
    }
  } finally {
    await browser.close();
  }
}

describe("the /trust page's command for Chromium on Linux (NSS)", () => {
  test("the page shows it, with the package that has certutil", () => {
    const html = trustPage({ fingerprint: "AB:CD", caPath: "/ca.crt" });
    assert.ok(html.includes(`<code>${escapeHtml(NSS_TRUST_COMMAND)}</code>`), html);
    assert.match(html, /libnss3-tools/);
    assert.match(html, /update-ca-certificates/, "next to the system store's");
  });

  test("run as the user, it makes Chromium trust the node's certificates (before it: a certificate error)", async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no ${CHROMIUM}: install Debian's chromium (sudo bin/archy doctor --fix does)`,
    );
    assert.ok(
      existsSync("/usr/bin/certutil"),
      "no /usr/bin/certutil: install Debian's libnss3-tools (sudo bin/archy doctor --fix does)",
    );
    const before = await openWithHome();
    assert.ok("error" in before && /ERR_CERT_AUTHORITY_INVALID/.test(before.error), JSON.stringify(before));

    execFileSync("/bin/sh", ["-c", NSS_TRUST_COMMAND], {
      cwd: home,
      env: { ...process.env, HOME: home },
      stdio: "pipe",
    });
    const listed = execFileSync("certutil", ["-d", `sql:${join(home, ".pki", "nssdb")}`, "-L"], {
      encoding: "utf8",
    });
    assert.match(listed, /archipelago-node\s+C,,/, listed);

    const after = await openWithHome();
    assert.deepEqual(after, { text: "trusted\n" });
  });
});
