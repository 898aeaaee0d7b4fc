/**
 * The operator password's hashing (argon2id, Node's own implementation) and the one global bound on
 * that work. An argon2id computation costs ~30 ms of CPU and 19 MiB: run on the event loop, a few
 * dozen anonymous `auth.setup`/`auth.login` calls stalled every other call for seconds. So each one
 * runs in libuv's thread pool, at most `concurrency` at a time, with at most `queue` more waiting
 * their turn; beyond that a caller is refused at once (`rateLimited`, retry in a second) instead of
 * queueing without end. What it did is counted (`stats`) for the tests and the metrics.
 */
import { argon2, randomBytes, timingSafeEqual } from "node:crypto";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

/** OWASP's minimum argon2id configuration (19 MiB, 2 passes, 1 lane). */
const ARGON2 = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const;

/** Two computations at once (of the thread pool's four threads), sixteen more waiting. */
export const PASSWORD_WORK = { concurrency: 2, queue: 16 } as const;

type Argon2Params = { nonce: Buffer; memory: number; passes: number; parallelism: number; tagLength: number };

/** What a job may compute while it holds its turn. */
export type Argon2 = {
  hash(password: string): Promise<string>;
  verify(password: string, encoded: string): Promise<boolean>;
};

export type PasswordWorkStats = {
  /** argon2id computations done. */
  computed: number;
  /** Jobs refused because the queue was full. */
  refused: number;
  /** The most jobs that ran at the same time. */
  maxActive: number;
};

const ENCODED = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

export class PasswordWork {
  readonly stats: PasswordWorkStats = { computed: 0, refused: 0, maxActive: 0 };
  readonly #concurrency: number;
  readonly #queue: number;
  /** Jobs admitted and not finished: running or waiting. */
  #admitted = 0;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limits: { concurrency: number; queue: number } = PASSWORD_WORK) {
    this.#concurrency = limits.concurrency;
    this.#queue = limits.queue;
  }

  /**
   * Runs `job` when its turn comes. Not async on purpose: a full queue throws here, synchronously,
   * so that the caller learns it before it counts the attempt (a refused job checked nothing).
   */
  run<T>(job: (argon: Argon2) => Promise<T>): Promise<T> {
    if (this.#admitted >= this.#concurrency + this.#queue) {
      this.stats.refused++;
      throw new RpcError(
        RPC_CODES.rateLimited,
        "the daemon is busy checking other passwords: try again in a second",
        { retryAfterSeconds: 1, busy: true },
      );
    }
    this.#admitted++;
    return this.#turn()
      .then(() => job({ hash: (p) => this.#hash(p), verify: (p, e) => this.#verify(p, e) }))
      .finally(() => {
        this.#admitted--;
        this.#active--;
        this.#waiting.shift()?.();
      });
  }

  #turn(): Promise<void> {
    const start = () => {
      this.#active++;
      this.stats.maxActive = Math.max(this.stats.maxActive, this.#active);
    };
    if (this.#active < this.#concurrency) {
      start();
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        start();
        resolve();
      }),
    );
  }

  async #compute(password: string, params: Argon2Params): Promise<Buffer> {
    this.stats.computed++;
    return new Promise((resolve, reject) =>
      argon2("argon2id", { message: password, ...params }, (error, hash) =>
        error ? reject(error) : resolve(hash),
      ),
    );
  }

  async #hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const hash = await this.#compute(password, { nonce: salt, ...ARGON2 });
    return `$argon2id$v=19$m=${ARGON2.memory},t=${ARGON2.passes},p=${ARGON2.parallelism}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
  }

  async #verify(password: string, encoded: string): Promise<boolean> {
    const match = ENCODED.exec(encoded);
    if (!match) return false;
    const expected = Buffer.from(match[5] as string, "base64url");
    const actual = await this.#compute(password, {
      nonce: Buffer.from(match[4] as string, "base64url"),
      memory: Number(match[1]),
      passes: Number(match[2]),
      parallelism: Number(match[3]),
      tagLength: expected.length,
    });
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
