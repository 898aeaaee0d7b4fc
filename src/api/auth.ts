/**
 * Operator authentication: one password set at first run (argon2id, computed off the event loop
 * under one global bound: password-work.ts), sessions stored hashed with a CSRF token each, login
 * attempts limited per address, globally and per device (login-limits.ts), and a local CLI token in
 * a 0600 file, new at every daemon start and on request. Sessions are always issued fresh (no
 * fixation); changing the password revokes every session.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import type { Store } from "../orchestrator/store.ts";
import { deviceOf, issueDeviceCookie } from "./device-cookie.ts";
import { type Guesser, LoginLimits } from "./login-limits.ts";
import { MIN_PASSWORD_LENGTH } from "./password-rule.ts";
import { type Argon2, PasswordWork } from "./password-work.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** A new session, and the device cookie that goes with it (login-limits.ts). */
export type Session = { token: string; csrfToken: string; expiresAt: number; device: string };

/** Who tries a password: the source address and the device cookie the request carried. */
export type PasswordCaller = { address: string; deviceCookie: string | undefined };

function tooShort(field: string): RpcError {
  return new RpcError(
    RPC_CODES.invalidParams,
    `invalid params: ${field}: the password must have at least ${MIN_PASSWORD_LENGTH} characters`,
    { issues: [{ field, problem: `at least ${MIN_PASSWORD_LENGTH} characters` }] },
  );
}

export class Auth {
  readonly #store: Store;
  readonly #limits: LoginLimits;
  readonly #work: PasswordWork;
  readonly #clock: () => number;
  readonly #cliTokenFile: string;
  #cliToken: string | undefined;
  #revocations = 0;

  constructor(options: {
    store: Store;
    /** Where the local CLI's token is written (0600). */
    cliTokenFile: string;
    limits?: LoginLimits;
    work?: PasswordWork;
    clock?: () => number;
  }) {
    this.#store = options.store;
    this.#cliTokenFile = options.cliTokenFile;
    this.#limits = options.limits ?? new LoginLimits();
    this.#work = options.work ?? new PasswordWork();
    this.#clock = options.clock ?? Date.now;
  }

  get isSetUp(): boolean {
    return this.#store.operatorPasswordHash() !== undefined;
  }

  /**
   * Sets the first operator password and logs in. Refused once a password exists — checked first,
   * so that a refused call costs no argon2 computation.
   */
  async setup(password: string): Promise<Session> {
    const alreadySet = () =>
      new RpcError(RPC_CODES.setupState, "the operator password is already set: log in with auth.login");
    if (this.isSetUp) throw alreadySet();
    if (password.length < MIN_PASSWORD_LENGTH) throw tooShort("password");
    const hash = await this.#work.run((argon) => argon.hash(password));
    // Two setups at once both got here: the store keeps the first.
    if (!this.#store.setOperatorPassword(hash, this.#clock())) throw alreadySet();
    return this.#newSession(hash);
  }

  async login(password: string, caller: PasswordCaller): Promise<Session> {
    const hash = this.#passwordHash("auth.setup first");
    const guesser = this.#guesser(caller, hash);
    if (!(await this.#check(guesser, (argon) => argon.verify(password, hash))))
      throw new RpcError(RPC_CODES.unauthenticated, "wrong password");
    // The check took a while: a password changed meanwhile must not let the old one in.
    if (this.#store.operatorPasswordHash() !== hash)
      throw new RpcError(
        RPC_CODES.unauthenticated,
        "the operator password was changed meanwhile: use the new one",
      );
    return this.#newSession(hash);
  }

  /**
   * Replaces the password; the old one is required and its check counts as a login attempt (a stolen
   * session cannot guess through it), except with the CLI token (its holder can read the hash). Every
   * session is revoked, the caller's too: it gets a new one.
   */
  async changePassword(
    oldPassword: string,
    newPassword: string,
    caller: PasswordCaller & { cliToken: boolean },
  ): Promise<Session> {
    if (newPassword.length < MIN_PASSWORD_LENGTH) throw tooShort("newPassword");
    const hash = this.#passwordHash("auth.setup instead");
    const guesser = caller.cliToken ? undefined : this.#guesser(caller, hash);
    const newHash = await this.#check(guesser, async (argon) =>
      (await argon.verify(oldPassword, hash)) ? argon.hash(newPassword) : undefined,
    );
    const notCurrent = (problem: string) =>
      new RpcError(RPC_CODES.invalidParams, `invalid params: oldPassword: ${problem}`, {
        issues: [{ field: "oldPassword", problem }],
      });
    if (newHash === undefined) throw notCurrent("not the current password");
    const replaced = this.#store.transaction(() => {
      if (!this.#store.replaceOperatorPassword(hash, newHash)) return false;
      this.#store.deleteAllSessions();
      return true;
    });
    if (!replaced) throw notCurrent("no longer the current password: another call changed it meanwhile");
    this.#revocations++;
    return this.#newSession(newHash);
  }

  logout(token: string | undefined): void {
    if (!token) return;
    this.#store.deleteSession(sha256(token));
    this.#revocations++;
  }

  /** Revokes every session; returns how many there were. */
  logoutAll(): number {
    const revoked = this.#store.deleteAllSessions();
    this.#revocations++;
    return revoked;
  }

  /**
   * How many times this daemon revoked sessions (a logout, a password change): a remembered
   * "this session is valid" is stale as soon as the count moves (see AppSessions.valid).
   */
  get revocations(): number {
    return this.#revocations;
  }

  /** The session a cookie token names, if it is valid and not expired. */
  session(token: string | undefined): { csrfToken: string; expiresAt: number } | undefined {
    if (!token || token.length > 200) return undefined;
    return this.#store.findSession(sha256(token), this.#clock());
  }

  /**
   * The key the store knows a valid session by (the hash of its token), and when it ends: what an
   * app host's session hangs on (proxy/sessions.ts), never the token itself.
   */
  sessionKey(token: string | undefined): { key: string; expiresAt: number } | undefined {
    if (!token || token.length > 200) return undefined;
    const key = sha256(token);
    const session = this.#store.findSession(key, this.#clock());
    return session ? { key, expiresAt: session.expiresAt } : undefined;
  }

  /** Whether the session with this key is still valid (not logged out, expired or revoked). */
  sessionKeyValid(key: string): boolean {
    return this.#store.findSession(key, this.#clock()) !== undefined;
  }

  csrfMatches(session: { csrfToken: string } | undefined, header: string | undefined): boolean {
    return session !== undefined && header !== undefined && safeEqual(session.csrfToken, header);
  }

  /**
   * Writes a new CLI token (0600, atomically): at every daemon start, and on request. The previous
   * one stops working at once; the CLI reads the file again when its token is refused.
   */
  async rotateCliToken(): Promise<void> {
    const token = randomBytes(32).toString("base64url");
    const temporary = `${this.#cliTokenFile}.tmp-${process.pid}`;
    await rm(temporary, { force: true });
    const handle = await open(temporary, "wx", 0o600);
    try {
      await handle.writeFile(`${token}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.#cliTokenFile);
    this.#cliToken = token;
  }

  cliTokenMatches(bearer: string | undefined): boolean {
    return this.#cliToken !== undefined && bearer !== undefined && safeEqual(this.#cliToken, bearer);
  }

  #passwordHash(otherwise: string): string {
    const hash = this.#store.operatorPasswordHash();
    if (!hash) throw new RpcError(RPC_CODES.setupState, `no operator password is set yet: call ${otherwise}`);
    return hash;
  }

  #guesser(caller: PasswordCaller, hash: string): Guesser {
    const device = deviceOf(caller.deviceCookie, hash, this.#clock());
    return device === undefined ? { address: caller.address } : { address: caller.address, device };
  }

  /**
   * One password check, cheapest refusals first: the guesser's budgets (no argon2 at all), then a
   * place in the bounded argon2 queue. Only then is the attempt counted, and the job run; a result
   * that is not undefined or false is the right password, and clears the guesser's budgets.
   */
  async #check<T>(guesser: Guesser | undefined, job: (argon: Argon2) => Promise<T>): Promise<T> {
    const now = this.#clock();
    if (guesser) this.#limits.check(guesser, now);
    const result = this.#work.run(job);
    if (guesser) this.#limits.attempted(guesser, now);
    const value = await result;
    if (guesser && value !== undefined && value !== false) this.#limits.succeeded(guesser);
    return value;
  }

  #newSession(passwordHash: string): Session {
    const token = randomBytes(32).toString("base64url");
    const csrfToken = randomBytes(24).toString("base64url");
    const now = this.#clock();
    const expiresAt = now + SESSION_TTL_MS;
    this.#store.createSession(sha256(token), csrfToken, now, expiresAt);
    return { token, csrfToken, expiresAt, device: issueDeviceCookie(passwordHash, now) };
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
