/**
 * Operator authentication: one password set at first run (argon2id, Node's own implementation),
 * sessions stored hashed with a CSRF token each, login attempts rate-limited with a growing delay,
 * and a local CLI token in a 0600 file. Sessions are always issued fresh at login (no fixation).
 */
import { argon2Sync, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, open, readFile, rename, stat } from "node:fs/promises";
import type { Store } from "../orchestrator/store.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

/** OWASP's minimum argon2id configuration (19 MiB, 2 passes, 1 lane). */
const ARGON2 = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const;
export const MIN_PASSWORD_LENGTH = 10;
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = argon2Sync("argon2id", { message: password, nonce: salt, ...ARGON2 });
  return `$argon2id$v=19$m=${ARGON2.memory},t=${ARGON2.passes},p=${ARGON2.parallelism}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

export function verifyPassword(password: string, encoded: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(
    encoded,
  );
  if (!match) return false;
  const expected = Buffer.from(match[5] as string, "base64url");
  const actual = argon2Sync("argon2id", {
    message: password,
    nonce: Buffer.from(match[4] as string, "base64url"),
    memory: Number(match[1]),
    passes: Number(match[2]),
    parallelism: Number(match[3]),
    tagLength: expected.length,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Failed logins per client: the first few (`freeAttempts`, 5) cost nothing; from the last of them
 * on, every failure makes the client wait before its next attempt, 1 s, then twice as long each time
 * (up to `maxDelayMs`). While it waits, every attempt is refused, the right password included.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, { count: number; blockedUntil: number }>();
  readonly #free: number;
  readonly #maxDelayMs: number;
  constructor(options: { freeAttempts?: number; maxDelayMs?: number } = {}) {
    this.#free = options.freeAttempts ?? 5;
    this.#maxDelayMs = options.maxDelayMs ?? 15 * 60_000;
  }

  /** Throws `rateLimited` while the client must wait. */
  check(client: string, now: number): void {
    const entry = this.#failures.get(client);
    if (entry && entry.blockedUntil > now) {
      const retryAfterSeconds = Math.ceil((entry.blockedUntil - now) / 1000);
      throw new RpcError(
        RPC_CODES.rateLimited,
        `too many failed logins: try again in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
  }

  failed(client: string, now: number): void {
    // Forget clients quiet for longer than the longest delay, so the map cannot grow without bound.
    if (this.#failures.size >= 10_000)
      for (const [key, entry] of this.#failures)
        if (entry.blockedUntil + this.#maxDelayMs < now) this.#failures.delete(key);
    const count = (this.#failures.get(client)?.count ?? 0) + 1;
    const delay = count < this.#free ? 0 : Math.min(this.#maxDelayMs, 1000 * 2 ** (count - this.#free));
    this.#failures.set(client, { count, blockedUntil: now + delay });
  }

  succeeded(client: string): void {
    this.#failures.delete(client);
  }
}

export type Session = { token: string; csrfToken: string; expiresAt: number };

export class Auth {
  readonly #store: Store;
  readonly #limiter: LoginLimiter;
  readonly #clock: () => number;
  #cliToken: string | undefined;

  constructor(options: { store: Store; limiter?: LoginLimiter; clock?: () => number }) {
    this.#store = options.store;
    this.#limiter = options.limiter ?? new LoginLimiter();
    this.#clock = options.clock ?? Date.now;
  }

  get isSetUp(): boolean {
    return this.#store.operatorPasswordHash() !== undefined;
  }

  /** Sets the first operator password and logs in. Refused once a password exists. */
  setup(password: string): Session {
    if (password.length < MIN_PASSWORD_LENGTH)
      throw new RpcError(
        RPC_CODES.invalidParams,
        `the password must have at least ${MIN_PASSWORD_LENGTH} characters`,
        {
          issues: [{ field: "password", problem: `at least ${MIN_PASSWORD_LENGTH} characters` }],
        },
      );
    if (!this.#store.setOperatorPassword(hashPassword(password), this.#clock()))
      throw new RpcError(
        RPC_CODES.setupState,
        "the operator password is already set: log in with auth.login",
      );
    return this.#newSession();
  }

  login(password: string, client: string): Session {
    const now = this.#clock();
    this.#limiter.check(client, now);
    const hash = this.#store.operatorPasswordHash();
    if (!hash)
      throw new RpcError(RPC_CODES.setupState, "no operator password is set yet: call auth.setup first");
    if (!verifyPassword(password, hash)) {
      this.#limiter.failed(client, now);
      throw new RpcError(RPC_CODES.unauthenticated, "wrong password");
    }
    this.#limiter.succeeded(client);
    return this.#newSession();
  }

  logout(token: string | undefined): void {
    if (token) this.#store.deleteSession(sha256(token));
  }

  /** The session a cookie token names, if it is valid and not expired. */
  session(token: string | undefined): { csrfToken: string } | undefined {
    if (!token || token.length > 200) return undefined;
    return this.#store.findSession(sha256(token), this.#clock());
  }

  csrfMatches(session: { csrfToken: string } | undefined, header: string | undefined): boolean {
    return session !== undefined && header !== undefined && safeEqual(session.csrfToken, header);
  }

  /** Creates (once) the local CLI's token file, 0600 in the daemon's state directory. */
  async ensureCliToken(path: string): Promise<void> {
    const existing = await readFile(path, "utf8").catch(() => undefined);
    if (existing && existing.trim().length >= 32) {
      await chmod(path, 0o600);
      this.#cliToken = existing.trim();
      return;
    }
    const token = randomBytes(32).toString("base64url");
    const temporary = `${path}.tmp-${process.pid}`;
    const handle = await open(temporary, "w", 0o600);
    try {
      await handle.writeFile(`${token}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    this.#cliToken = token;
  }

  cliTokenMatches(bearer: string | undefined): boolean {
    return this.#cliToken !== undefined && bearer !== undefined && safeEqual(this.#cliToken, bearer);
  }

  #newSession(): Session {
    const token = randomBytes(32).toString("base64url");
    const csrfToken = randomBytes(24).toString("base64url");
    const now = this.#clock();
    const expiresAt = now + SESSION_TTL_MS;
    this.#store.createSession(sha256(token), csrfToken, now, expiresAt);
    return { token, csrfToken, expiresAt };
  }
}

/** Reads the CLI token file, refusing one that others could read (it grants full control). */
export async function readCliToken(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info)
    throw new Error(
      `no CLI token at ${path}: is the daemon running with this data directory? (or set ARCHY_TOKEN_FILE)`,
    );
  if ((info.mode & 0o077) !== 0)
    throw new Error(
      `the CLI token file ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}): run \`chmod 600 ${path}\``,
    );
  return (await readFile(path, "utf8")).trim();
}
