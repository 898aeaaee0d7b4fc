import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { iconType, iconWarnings } from "./icon.ts";
import type { Manifest } from "./schema.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>';

describe("an icon's type comes from its bytes, from an allow-list", () => {
  test("PNG, JPEG, WebP and SVG (with a prolog) are recognised", () => {
    assert.equal(iconType(PNG), "image/png");
    assert.equal(iconType(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16])), "image/jpeg");
    assert.equal(iconType(Buffer.from("RIFF\x10\0\0\0WEBPVP8 ", "latin1")), "image/webp");
    assert.equal(iconType(Buffer.from(SVG)), "image/svg+xml");
    assert.equal(
      iconType(Buffer.from(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by hand -->\n${SVG}`)),
      "image/svg+xml",
    );
  });

  test("HTML, HTML holding an SVG, text, a GIF and invalid UTF-8 are not icons", () => {
    for (const bytes of [
      Buffer.from("<!doctype html><html><body><svg></svg><script>alert(1)</script></body></html>"),
      Buffer.from(`<html>${SVG}</html>`),
      Buffer.from("just text <svg>"),
      Buffer.from("GIF89a\x01\0\x01\0", "latin1"),
      Buffer.concat([Buffer.from("<svg>"), Buffer.from([0xc3, 0x28])]),
      Buffer.alloc(0),
    ])
      assert.equal(iconType(bytes), undefined, bytes.toString("latin1"));
  });
});

describe("icon warnings", () => {
  test("icon.remote-url: an https icon is a warning (valid; the node never fetches it, the UI shows initials)", () => {
    const of = (icon: string | undefined) => iconWarnings({ icon } as Pick<Manifest, "icon">);
    assert.deepEqual(
      of("https://example.org/i.png").map(({ path, rule }) => ({ path, rule })),
      [{ path: ["icon"], rule: "icon.remote-url" }],
    );
    assert.match(of("https://example.org/i.png")[0]?.message ?? "", /never fetches it/);
    assert.deepEqual(of("icon.svg"), [], "a file of the app: no warning");
    assert.deepEqual(of(undefined), []);
  });
});
