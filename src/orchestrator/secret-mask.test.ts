/**
 * The secret mask (SPEC invariant 4: generated secrets never reach logs or events): whatever form a
 * known secret takes in a line — as is, JSON-escaped, URL- or form-encoded, hex, base64 or
 * base64url at any alignment inside a larger blob, wrapped over lines — the masked line holds no run
 * of 12 characters of the forms the suite's secrets scan looks for (test/support/secret-scan.ts, an
 * independent list), and it names the secret instead. Text without secrets, and values too short to
 * mask, are left alone.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { formsIn } from "../../test/support/secret-scan.ts";
import { MIN_SECRET_LENGTH } from "../manifest/schema.ts";
import { SecretMask } from "./secret-mask.ts";
import { generateSecret } from "./secrets.ts";

const SECRET = "Zq7XkP2mW9rT4vB8nC3sL6dF";

/** The forms the scan looks for that are still in `text` (any run of 12 of their characters). */
const leftIn = formsIn;

/** Ways output carries a secret, each with something around it. */
const CARRIERS: Array<[string, (s: string) => string]> = [
  ["plain", (s) => `step 1: password=${s}.`],
  ["JSON-escaped in a document", (s) => `{"config":${JSON.stringify({ pw: s })}}`],
  ["URL-encoded in a query", (s) => `GET /login?user=a&pw=${encodeURIComponent(`${s}&/`)}`],
  ["form-encoded", (s) => new URLSearchParams({ pw: `${s} !` }).toString()],
  ["hex", (s) => `dump: ${Buffer.from(`\x01${s}\x02`).toString("hex")}`],
  ["upper-case hex", (s) => `DUMP ${Buffer.from(s).toString("hex").toUpperCase()}`],
  ["base64 of the value alone", (s) => `echo ${Buffer.from(s).toString("base64")} | base64 -d`],
  ...[0, 1, 2, 3, 4, 5].map((prefix): [string, (s: string) => string] => [
    `base64 at byte offset ${prefix} of a Basic header`,
    (s) => `Authorization: Basic ${Buffer.from(`${"u".repeat(prefix)}:${s}`).toString("base64")}`,
  ]),
  [
    "base64url inside a JSON token",
    (s) => `t=${Buffer.from(JSON.stringify({ a: 1, s })).toString("base64url")}`,
  ],
];

describe("SecretMask", () => {
  for (const [form, carry] of CARRIERS)
    test(`a secret ${form} is masked and named`, () => {
      const mask = new SecretMask();
      assert.equal(mask.add("app-a/password", SECRET), true);
      const line = carry(SECRET);
      assert.notDeepEqual(leftIn(line, SECRET), [], `the scan sees the secret in: ${line}`);
      const masked = mask.apply(line);
      assert.deepEqual(leftIn(masked, SECRET), [], `still there after masking: ${masked}`);
      assert.match(masked, /\[secret app-a\/password\]/);
    });

  test("property: any generated secret, in any carrier, with anything around it, is masked", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("alphanumeric", "hex", "base64url"),
        fc.integer({ min: MIN_SECRET_LENGTH, max: 256 }),
        fc.constantFrom(...CARRIERS.map(([, carry]) => carry)),
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        (type, length, carry, before, after) => {
          const value = generateSecret(type as "alphanumeric" | "hex" | "base64url", length);
          const mask = new SecretMask();
          mask.add("x/y", value);
          const masked = mask.apply(`${before}${carry(value)}${after}`);
          assert.deepEqual(leftIn(masked, value), [], masked);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("every secret it knows, several in one line, each under its own name", () => {
    const other = "h3Kq9Wm2Xz7Pv4Rt8Ny6Bc1D";
    const mask = new SecretMask();
    mask.add("app-a/password", SECRET);
    mask.add("app-b/key", other);
    const masked = mask.apply(`a=${SECRET} b=${Buffer.from(other).toString("base64")} a again=${SECRET}`);
    assert.equal(masked, "a=[secret app-a/password] b=[secret app-b/key] a again=[secret app-a/password]");
  });

  test("text without a known secret is returned as it was", () => {
    const mask = new SecretMask();
    const text = 'running the post_install hook (2 steps) {"a":1} 0123456789abcdef';
    assert.equal(mask.apply(text), text, "nothing known yet");
    mask.add("app-a/password", SECRET);
    assert.equal(mask.apply(text), text);
  });

  test("a piece of 12 characters or more is masked; a shorter one cannot be told from other text", () => {
    const mask = new SecretMask();
    mask.add("app-a/password", SECRET);
    assert.equal(mask.apply(`first half ${SECRET.slice(0, 12)}…`), "first half [secret app-a/password]…");
    assert.equal(mask.apply(`tail ${SECRET.slice(-11)}`), `tail ${SECRET.slice(-11)}`);
  });

  test("a long secret that base64 wraps over several lines is masked on each line", () => {
    const value = generateSecret("hex", 200);
    const mask = new SecretMask();
    mask.add("app-a/key", value);
    // `base64` wraps at 76 characters: each line is a piece of the encoding.
    const lines = (
      Buffer.from(`archy:${value}`)
        .toString("base64")
        .match(/.{1,76}/g) ?? []
    ).map((l) => mask.apply(`post_install step 1: ${l}`));
    assert.equal(lines.length, 4);
    assert.deepEqual(formsIn(lines.join("\n"), value), [], lines.join("\n"));
    for (const line of lines.slice(0, -1)) assert.match(line, /\[secret app-a\/key\]/);
  });

  test("a value shorter than a generated secret is not masked (it would catch ordinary text)", () => {
    const mask = new SecretMask();
    assert.equal(mask.add("app-a/pin", "1234"), false);
    assert.equal(mask.apply("took 1234 ms, pin 1234"), "took 1234 ms, pin 1234");
  });

  test("applyDeep masks every string of an event, whatever its shape", () => {
    const mask = new SecretMask();
    mask.add("app-a/password", SECRET);
    const event = {
      type: "log",
      appId: "app-a",
      line: { operationId: "op", seq: 3, at: 1, level: "info", message: `post_install step 1: ${SECRET}` },
      list: [SECRET, 7, null],
    };
    assert.deepEqual(mask.applyDeep(event), {
      ...event,
      line: { ...event.line, message: "post_install step 1: [secret app-a/password]" },
      list: ["[secret app-a/password]", 7, null],
    });
  });
});
