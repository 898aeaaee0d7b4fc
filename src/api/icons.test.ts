import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ICON_MAX_BYTES } from "../manifest/icon.ts";
import type { Manifest } from "../manifest/schema.ts";
import { iconUrl, readIcon } from "./icons.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

describe("an icon is read only from its package's directory, bounded and checked", () => {
  const root = mkdtempSync(join(tmpdir(), "archy-icons-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const app = join(root, "app");
  mkdirSync(app);
  writeFileSync(join(root, "outside.png"), PNG);
  const manifest = (icon: string | undefined) => ({ id: "pic", icon }) as unknown as Manifest;

  test("a PNG of the package is served with an ETag of its content", async () => {
    writeFileSync(join(app, "icon.png"), PNG);
    const read = await readIcon("pic", { manifest: manifest("icon.png"), dir: app });
    assert.ok(read.ok, JSON.stringify(read));
    assert.equal(read.type, "image/png");
    assert.deepEqual(read.bytes, PNG);
    writeFileSync(join(app, "other.png"), Buffer.concat([PNG, Buffer.from([1])]));
    const other = await readIcon("pic", { manifest: manifest("other.png"), dir: app });
    assert.ok(other.ok);
    assert.notEqual(other.etag, read.etag, "another content, another ETag");
  });

  test("a link leading outside the app directory is refused (no file outside the package is served)", async () => {
    symlinkSync(join(root, "outside.png"), join(app, "link.png"));
    const read = await readIcon("pic", { manifest: manifest("link.png"), dir: app });
    assert.equal(read.ok, false);
    assert.match(!read.ok ? read.reason : "", /outside .*refused/);
  });

  test("an icon bigger than the cap is refused with the cap and the fix", async () => {
    writeFileSync(join(app, "big.png"), Buffer.concat([PNG, Buffer.alloc(ICON_MAX_BYTES)]));
    const read = await readIcon("pic", { manifest: manifest("big.png"), dir: app });
    assert.deepEqual(read.ok ? read : { status: read.status, reason: read.reason }, {
      status: 413,
      reason:
        "pic's icon big.png: more than 256 KiB to serve as an icon: refused; make the icon smaller (a 256 px PNG or WebP, or an SVG, is plenty)",
    });
  });

  test("HTML named icon.svg is refused: the type is sniffed, never taken from the name", async () => {
    writeFileSync(join(app, "icon.svg"), "<html><script>alert(1)</script></html>");
    const read = await readIcon("pic", { manifest: manifest("icon.svg"), dir: app });
    assert.equal(read.ok ? 200 : read.status, 415);
  });

  test("a signed package's icon that is not what was signed is refused", async () => {
    writeFileSync(join(app, "icon.png"), PNG);
    const read = await readIcon("pic", {
      manifest: manifest("icon.png"),
      dir: app,
      verifyCopy: (from) => `${from} does not match its signed length and hashes`,
    });
    assert.equal(read.ok ? 200 : read.status, 409);
    assert.match(!read.ok ? read.reason : "", /icon\.png does not match its signed length/);
  });

  test("an https icon is never fetched: no URL to serve it from, and a refusal that says why", async () => {
    assert.equal(iconUrl("pic", "local:/x", manifest("https://example.org/i.png")), null);
    assert.equal(iconUrl("pic", "local:/x", manifest(undefined)), null);
    assert.equal(iconUrl("a.b", "catalog:main", manifest("i.png")), "/icons/v1/a.b?source=catalog%3Amain");
    const read = await readIcon("pic", { manifest: manifest("https://example.org/i.png"), dir: app });
    assert.match(!read.ok ? read.reason : "", /never fetches/);
  });
});
