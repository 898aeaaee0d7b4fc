/**
 * Sessions of app hosts (docs/app-access.md#login). The operator logs in on the node's own host;
 * an app host gets its own session through a one-time ticket: the node's host issues it to a
 * logged-in operator for one app host and one path, the browser carries it there in a redirect,
 * and the app host trades it for a cookie of its own (host-only). Each app-host session hangs on
 * the operator session it came from and is checked against it at every request, so a logout, an
 * expiry, a password change or `auth.logoutAll` ends every app host's access at once.
 *
 * Held in memory (a daemon restart sends app hosts through the ticket again, silently while the
 * operator session lives), keyed by the SHA-256 of each secret, bounded in number.
 *
 * The operator session is read from the store at most once per OPERATOR_RECHECK_MS per app-host
 * session, not at every request (a read there is a SQLite query and two file-lock system calls,
 * ~7 % of the daemon's busy time on a small request: bench/README.md): a revocation by this
 * daemon (a logout, a password change) is seen at once, as it moves the revocation count; one made
 * elsewhere (the store changed behind the daemon's back) within OPERATOR_RECHECK_MS; an expiry at
 * its instant.
 */
import { createHash, randomBytes } from "node:crypto";

/** How long a ticket may take to travel from the node's host to the app host. */
export const TICKET_TTL_MS = 60_000;
/** At most this many tickets wait at once (the oldest go first). */
export const MAX_TICKETS = 1_000;
/** At most this many app-host sessions live at once (the oldest go first). */
export const MAX_APP_SESSIONS = 10_000;
/**
 * How long a check of the operator session behind an app-host session is trusted, when no
 * revocation happened since. Together with the streams' check (STREAM_CHECK_MS), a session ended
 * anyhow loses app access, open streams included, within a second (issue 16).
 */
export const OPERATOR_RECHECK_MS = 250;

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
const secret = () => randomBytes(32).toString("base64url");

/** The operator session behind an app-host session: the key the store knows it by, never its token. */
export type OperatorSession = { key: string; expiresAt: number };

type Ticket = { host: string; path: string; operator: OperatorSession; expiresAt: number };
type AppSession = {
  host: string;
  operator: OperatorSession;
  /** When the operator session was last found valid, and the revocation count then. */
  checked: { at: number; revocations: number };
};

export type Redeemed =
  | { ok: true; token: string; path: string; expiresAt: number }
  | { ok: false; reason: string };

export class AppSessions {
  readonly #tickets = new Map<string, Ticket>();
  readonly #sessions = new Map<string, AppSession>();
  readonly #clock: () => number;
  /** Whether the operator session with this key is still valid (the store's word). */
  readonly #operatorValid: (key: string) => boolean;
  /** How many revocations of operator sessions there were so far (Auth.revocations). */
  readonly #revocations: () => number;

  constructor(options: {
    clock?: () => number;
    operatorValid: (key: string) => boolean;
    revocations: () => number;
  }) {
    this.#clock = options.clock ?? Date.now;
    this.#operatorValid = options.operatorValid;
    this.#revocations = options.revocations;
  }

  /** A ticket for `host`, to land on `path` (a path of that host, checked by the caller). */
  issueTicket(host: string, path: string, operator: OperatorSession): string {
    const ticket = secret();
    const now = this.#clock();
    for (const [key, held] of this.#tickets) if (held.expiresAt <= now) this.#tickets.delete(key);
    bound(this.#tickets, MAX_TICKETS - 1);
    this.#tickets.set(sha256(ticket), { host, path, operator, expiresAt: now + TICKET_TTL_MS });
    return ticket;
  }

  /** Trades a ticket for a session of `host`: once, on the host it was issued for, before it expires. */
  redeem(ticket: string | undefined, host: string): Redeemed {
    if (!ticket || ticket.length > 100) return { ok: false, reason: "no ticket" };
    const key = sha256(ticket);
    const held = this.#tickets.get(key);
    // Used or not, a ticket presented once is gone: a replay finds nothing.
    this.#tickets.delete(key);
    const now = this.#clock();
    if (!held) return { ok: false, reason: "the ticket is unknown or was used already" };
    if (held.expiresAt <= now) return { ok: false, reason: "the ticket has expired" };
    if (held.host !== host) return { ok: false, reason: "the ticket is for another host" };
    const revocations = this.#revocations();
    if (!this.#operatorValid(held.operator.key))
      return { ok: false, reason: "the operator session has ended" };
    const token = secret();
    bound(this.#sessions, MAX_APP_SESSIONS - 1);
    this.#sessions.set(sha256(token), {
      host,
      operator: held.operator,
      checked: { at: now, revocations },
    });
    return { ok: true, token, path: held.path, expiresAt: held.operator.expiresAt };
  }

  /** Whether `token` is a live session of `host` (its operator session still valid). */
  valid(token: string | undefined, host: string): boolean {
    if (!token || token.length > 100) return false;
    const key = sha256(token);
    const session = this.#sessions.get(key);
    if (!session || session.host !== host) return false;
    const now = this.#clock();
    if (session.operator.expiresAt <= now) {
      this.#sessions.delete(key);
      return false;
    }
    const revocations = this.#revocations();
    const { checked } = session;
    const since = now - checked.at;
    if (checked.revocations === revocations && since >= 0 && since < OPERATOR_RECHECK_MS) return true;
    if (!this.#operatorValid(session.operator.key)) {
      this.#sessions.delete(key);
      return false;
    }
    session.checked = { at: now, revocations };
    return true;
  }

  /** Ends one app-host session (its host's logout). */
  end(token: string | undefined): void {
    if (token) this.#sessions.delete(sha256(token));
  }

  /** How many tickets and sessions are held (for tests of the bounds). */
  get size(): { tickets: number; sessions: number } {
    return { tickets: this.#tickets.size, sessions: this.#sessions.size };
  }
}

/** Drops the oldest entries (a Map keeps insertion order) until at most `max` remain. */
function bound<V>(map: Map<string, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return;
    map.delete(key);
  }
}
