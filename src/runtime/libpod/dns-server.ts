/**
 * Guards container starts against a race in Podman 4.3's network stack (netavark + aardvark-dns 1.4).
 *
 * aardvark-dns, the DNS server that resolves container names and aliases, exits when the last
 * container with DNS stops. Netavark, setting up the next container, decides whether to start a
 * new server or to signal the running one by checking whether the pid in `aardvark.pid` is alive —
 * and a zombie is alive to that check. Until the dead server is reaped, every start signals it
 * instead of starting a new one, and names stop resolving for every container of the user until
 * some later start finds the pid gone. Where PID 1 reaps slowly (seen: 1–2 s on these machines; a
 * stop then start of an app falls inside that), an app restart or update left its containers
 * unable to find each other.
 *
 * The guard: before a start, a pid file that names a dead server (a zombie) is removed, so that
 * netavark starts a fresh one — what it would do anyway once the zombie is reaped, without waiting
 * for PID 1 (on a node under systemd the reaping is immediate; in containers and sandboxes whose
 * PID 1 reaps slowly, waiting it out cost every stop-then-start of an app a second or two). A zombie
 * keeps its pid until it is reaped, so the file cannot name another process meanwhile; it is read
 * again right before the removal, and a file that changed is left alone. Where the file cannot be
 * removed (another user's), the start waits for the reaping as before. What stays open is the
 * moment between a server's decision to exit and its exit (milliseconds); Podman 5 no longer has
 * the race.
 */
import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";

/** What the pid file names. */
export type DnsServerState = "none" | "running" | "zombie" | "gone";

/** What `settle` ended with: a state, or `cleared` when it removed a dead server's pid file. */
export type SettledState = DnsServerState | "cleared";

export type DnsServerOptions = {
  /** How long a start waits for a zombie server to be reaped before going on anyway. */
  reapTimeoutMs?: number;
  pollMs?: number;
  /** Removes a file (tests make it fail, as for another user's run directory). */
  remove?: (path: string) => Promise<void>;
};

/** Netavark's run directory: per user (under the run root) rootless, shared when root. */
export function netavarkRunDir(info: { rootless: boolean; runRoot: string }): string {
  return info.rootless ? join(info.runRoot, "networks") : "/run/containers/networks";
}

/** The state of the process in `/proc/PID/stat` (third field, after the parenthesised command). */
export function processStateOf(stat: string): string | undefined {
  const afterCommand = stat.slice(stat.lastIndexOf(")") + 1).trim();
  return afterCommand.split(" ")[0] || undefined;
}

export class DnsServer {
  readonly #locate: () => Promise<string | undefined>;
  readonly #reapTimeoutMs: number;
  readonly #pollMs: number;
  readonly #remove: (path: string) => Promise<void>;
  #dir: string | undefined;

  /** `locate` finds netavark's run directory; undefined when it cannot be read from here. */
  constructor(locate: () => Promise<string | undefined>, options: DnsServerOptions = {}) {
    this.#locate = locate;
    this.#reapTimeoutMs = options.reapTimeoutMs ?? 10_000;
    this.#pollMs = options.pollMs ?? 50;
    this.#remove = options.remove ?? unlink;
  }

  async state(): Promise<DnsServerState> {
    return (await this.#look()).state;
  }

  /**
   * Makes sure the next network setup starts a new server if the one named by the pid file is
   * dead: its pid file is removed, or, where that cannot be done, the zombie's reaping is waited
   * for (up to `reapTimeoutMs`). Returns what it ended with ("zombie" only when that wait timed out).
   */
  async settle(): Promise<SettledState> {
    const deadline = Date.now() + this.#reapTimeoutMs;
    let look = await this.#look();
    if (look.state === "zombie" && (await this.#clear(look))) return "cleared";
    while (look.state === "zombie" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
      look = await this.#look();
    }
    return look.state;
  }

  async #look(): Promise<{ state: DnsServerState; pidFile?: string; text?: string }> {
    // Found once; not found (Podman not answering yet) is asked again next time.
    this.#dir ??= await this.#locate().catch(() => undefined);
    const dir = this.#dir;
    if (!dir) return { state: "none" };
    const pidFile = join(dir, "aardvark-dns", "aardvark.pid");
    const text = await readText(pidFile);
    const pid = Number.parseInt(text, 10);
    if (!Number.isInteger(pid) || pid <= 0) return { state: "none" };
    const stat = await readText(`/proc/${pid}/stat`);
    if (!stat) return { state: "gone", pidFile, text };
    const state = processStateOf(stat);
    return { state: state === "Z" || state === "X" ? "zombie" : "running", pidFile, text };
  }

  /** Removes the pid file of a dead server if it still names it; whether it did. */
  async #clear(look: { pidFile?: string; text?: string }): Promise<boolean> {
    if (!look.pidFile || (await readText(look.pidFile)) !== look.text) return false;
    try {
      await this.#remove(look.pidFile);
      return true;
    } catch {
      return false;
    }
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return "";
  }
}
