/**
 * Masks generated secrets in the text the daemon records or forwards (SPEC invariant 4): every run
 * of MIN_SECRET_LENGTH or more characters of any form of a secret value it knows becomes
 * `[secret APP/NAME]`. The forms: the value as is, JSON-escaped, URL- and form-encoded, hex (both
 * cases), and base64 and base64url at each of the three byte alignments — the characters that
 * depend on the value alone, so a secret encoded inside a larger blob (`user:password` in a Basic
 * header, a JSON document) is masked too. Runs rather than whole forms: `base64` wraps its output
 * at 76 characters, so a long secret's encoding reaches a log in pieces, one per line. Pure, apart
 * from the set of values it holds.
 *
 * Shorter runs are left alone: a value shorter than MIN_SECRET_LENGTH (which generated secrets
 * never are) or a piece of a form shorter than that (the last characters of a wrapped line) cannot
 * be told from ordinary text, and masking it would hide that text and, by what it hides, tell the
 * value.
 */
import { MIN_SECRET_LENGTH } from "../manifest/schema.ts";

/** The characters of base64 (of `offset` bytes, then `bytes`) that depend on `bytes` alone. */
function base64Core(bytes: Buffer, offset: number, alphabet: "base64" | "base64url"): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes])
    .toString(alphabet)
    .replace(/=+$/, "");
  // Character k holds bits 6k…6k+5 of the encoded bytes; the value's bits are 8·offset…8·total-1.
  return encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
}

/** Every form of a value that output may carry it in (see the module comment). */
export function secretForms(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const hex = bytes.toString("hex");
  const forms = new Set([
    value,
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    new URLSearchParams({ x: value }).toString().slice(2),
    hex,
    hex.toUpperCase(),
  ]);
  for (const offset of [0, 1, 2])
    for (const alphabet of ["base64", "base64url"] as const) forms.add(base64Core(bytes, offset, alphabet));
  return [...forms];
}

/** How many characters of a form make a run worth masking. */
const RUN = MIN_SECRET_LENGTH;

export class SecretMask {
  /** Every run of RUN characters of every form of every value, with what replaces it. */
  readonly #runs = new Map<string, string>();

  /**
   * Masks `value` from now on, as `[secret LABEL]`. False (and nothing masked) for a value shorter
   * than MIN_SECRET_LENGTH.
   */
  add(label: string, value: string): boolean {
    if (value.length < MIN_SECRET_LENGTH) return false;
    const replacement = `[secret ${label}]`;
    for (const form of secretForms(value))
      for (let at = 0; at + RUN <= form.length; at++) this.#runs.set(form.slice(at, at + RUN), replacement);
    return true;
  }

  /**
   * `text` with every known secret masked: each stretch of text covered by runs of secret forms
   * (overlapping or touching) becomes one replacement. One look-up per character, whatever the
   * number of secrets.
   */
  apply(text: string): string {
    if (this.#runs.size === 0 || text.length < RUN) return text;
    let masked = "";
    let copied = 0;
    for (let at = 0; at + RUN <= text.length; ) {
      const replacement = this.#runs.get(text.slice(at, at + RUN));
      if (replacement === undefined) {
        at++;
        continue;
      }
      let end = at + RUN;
      for (let next = at + 1; next <= end && next + RUN <= text.length; next++)
        if (this.#runs.has(text.slice(next, next + RUN))) end = next + RUN;
      masked += text.slice(copied, at) + replacement;
      copied = end;
      at = end;
    }
    return copied === 0 ? text : masked + text.slice(copied);
  }
  /** A copy of `value` (an event, any JSON-like shape) with every string in it masked. */
  applyDeep<T>(value: T): T {
    if (typeof value === "string") return this.apply(value) as T;
    if (Array.isArray(value)) return value.map((item) => this.applyDeep(item)) as T;
    if (value !== null && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.applyDeep(item)])) as T;
    return value;
  }
}
