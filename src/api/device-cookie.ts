/**
 * Device cookies (OWASP's defence against login lock-out): a browser that proved the password gets
 * a long-lived cookie naming a random device id, signed with the operator's password hash. Its
 * later login attempts count against that device's own budget (login-limits.ts) instead of the
 * budgets everyone shares, so nobody without the cookie can slow the operator's browser down. It
 * grants nothing else: it is not a session. Changing the password (the key) voids every one.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const DEVICE_COOKIE = "archy_device";
export const DEVICE_TTL_MS = 365 * 24 * 60 * 60 * 1000;

const mac = (key: string, issuedAt: string, id: string) =>
  createHmac("sha256", key).update(`archy-device\0${issuedAt}\0${id}`).digest("base64url");

/** A new device cookie value: `<issued at, base 36>.<id>.<signature>`. */
export function issueDeviceCookie(passwordHash: string, now: number): string {
  const issuedAt = now.toString(36);
  const id = randomBytes(16).toString("base64url");
  return `${issuedAt}.${id}.${mac(passwordHash, issuedAt, id)}`;
}

/** The device id of a cookie this password hash signed and that has not expired; else undefined. */
export function deviceOf(cookie: string | undefined, passwordHash: string, now: number): string | undefined {
  if (!cookie || cookie.length > 200) return undefined;
  const [issuedAt = "", id = "", signature = "", ...rest] = cookie.split(".");
  if (rest.length > 0 || !/^[0-9a-z]{1,12}$/.test(issuedAt) || !/^[A-Za-z0-9_-]{22}$/.test(id))
    return undefined;
  const issued = Number.parseInt(issuedAt, 36);
  if (!(issued <= now && now < issued + DEVICE_TTL_MS)) return undefined;
  const expected = Buffer.from(mac(passwordHash, issuedAt, id));
  const actual = Buffer.from(signature);
  return actual.length === expected.length && timingSafeEqual(actual, expected) ? id : undefined;
}
