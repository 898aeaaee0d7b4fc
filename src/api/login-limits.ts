/**
 * How many password guesses the daemon checks, and for whom. Three budgets, each with a growing
 * delay (a slow-down) once its free attempts are used:
 *
 * - per source address: 5 free failures, then 1 s, doubling with every further failure, up to 15 min;
 * - global, over every address without a device cookie together: 20 free, then 1 s doubling up to
 *   60 s. Many addresses (20 × 5 guesses went through before) share it, so the attacker's rate is
 *   bounded for the whole node: after the free ones, at most one guess a minute;
 * - per device: a browser that logged in before carries a device cookie (see device-cookie.ts) and
 *   counts against its own budget (5 free, up to 15 min) instead of the two above. Nobody else can
 *   spend it, so a local user failing from 127.0.0.1, or a flood from many addresses, never locks
 *   the operator's browser out.
 *
 * An attempt counts as a failure from the moment it is admitted (parallel guesses cannot all pass
 * the check before the first one fails) and is taken back by its success. A success clears the
 * budgets it counted against, the caller's address and the global one: the operator logging in ends
 * the slow-down an attacker caused. The CLI token never goes through here.
 */
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

export type Backoff = { freeAttempts: number; maxDelayMs: number };

export const LOGIN_LIMITS = {
  perAddress: { freeAttempts: 5, maxDelayMs: 15 * 60_000 },
  global: { freeAttempts: 20, maxDelayMs: 60_000 },
  perDevice: { freeAttempts: 5, maxDelayMs: 15 * 60_000 },
} as const satisfies Record<string, Backoff>;

/** Keys (addresses, devices) remembered at most; the oldest is forgotten first. */
const MAX_KEYS = 10_000;

/**
 * Failures per key: the first `freeAttempts` may follow each other at once; the last of them and
 * every later one make the key wait before its next attempt, 1 s, then twice as long each time (up
 * to `maxDelayMs`). While it waits, every attempt is refused, the right password included. Kept in
 * memory: a daemon restart starts every budget afresh.
 */
export class Backoffs {
  readonly #failures = new Map<string, { count: number; blockedUntil: number }>();
  readonly #settings: Backoff;
  constructor(settings: Backoff) {
    this.#settings = settings;
  }

  /** Milliseconds the key must still wait (0: it may try). */
  waitMs(key: string, now: number): number {
    return Math.max(0, (this.#failures.get(key)?.blockedUntil ?? 0) - now);
  }

  failed(key: string, now: number): void {
    const { freeAttempts, maxDelayMs } = this.#settings;
    const count = (this.#failures.get(key)?.count ?? 0) + 1;
    const delay = count < freeAttempts ? 0 : Math.min(maxDelayMs, 1000 * 2 ** (count - freeAttempts));
    this.#failures.delete(key); // re-inserted last: the map's order is the order of last failure
    this.#failures.set(key, { count, blockedUntil: now + delay });
    if (this.#failures.size > MAX_KEYS) this.#forget(now);
  }

  succeeded(key: string): void {
    this.#failures.delete(key);
  }

  /** Forgets keys quiet for longer than the longest delay, else the oldest: the map stays bounded. */
  #forget(now: number): void {
    for (const [key, entry] of this.#failures)
      if (entry.blockedUntil + this.#settings.maxDelayMs < now) this.#failures.delete(key);
    for (const key of this.#failures.keys()) {
      if (this.#failures.size <= MAX_KEYS) break;
      this.#failures.delete(key);
    }
  }
}

/** Who is guessing: the source address, and the device cookie's id when it carries a valid one. */
export type Guesser = { address: string; device?: string };

const GLOBAL = "*";

export class LoginLimits {
  readonly #address: Backoffs;
  readonly #global: Backoffs;
  readonly #device: Backoffs;

  constructor(settings: Record<keyof typeof LOGIN_LIMITS, Backoff> = LOGIN_LIMITS) {
    this.#address = new Backoffs(settings.perAddress);
    this.#global = new Backoffs(settings.global);
    this.#device = new Backoffs(settings.perDevice);
  }

  /** The budgets an attempt counts against: its device's alone, or its address's and the global one. */
  #budgets(guesser: Guesser): Array<[Backoffs, string]> {
    return guesser.device !== undefined
      ? [[this.#device, guesser.device]]
      : [
          [this.#address, guesser.address],
          [this.#global, GLOBAL],
        ];
  }

  /** Throws `rateLimited` while any budget of the guesser must wait. */
  check(guesser: Guesser, now: number): void {
    const waitMs = Math.max(...this.#budgets(guesser).map(([budget, key]) => budget.waitMs(key, now)));
    if (waitMs <= 0) return;
    const retryAfterSeconds = Math.ceil(waitMs / 1000);
    throw new RpcError(RPC_CODES.rateLimited, `too many failed logins: try again in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }

  /** An attempt is about to be checked: it counts as a failure until `succeeded` says otherwise. */
  attempted(guesser: Guesser, now: number): void {
    for (const [budget, key] of this.#budgets(guesser)) budget.failed(key, now);
  }

  /** The right password: clears the guesser's budgets, its address's and the global one. */
  succeeded(guesser: Guesser): void {
    if (guesser.device !== undefined) this.#device.succeeded(guesser.device);
    this.#address.succeeded(guesser.address);
    this.#global.succeeded(GLOBAL);
  }
}
