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
 * The guard: before a start, wait until a dead server's zombie is gone, so that netavark starts a
 * fresh one. What it leaves open is the moment between a server's decision to exit and its exit
 * (milliseconds, against the seconds of the zombie); Podman 5 no longer has the race.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** What the pid file names. */
export type DnsServerState = "none" | "running" | "zombie" | "gone";

export type DnsServerOptions = {
  /** How long a start waits for a zombie server to be reaped before going on anyway. */
  reapTimeoutMs?: number;
  pollMs?: number;
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
  #dir: string | undefined;

  /** `locate` finds netavark's run directory; undefined when it cannot be read from here. */
  constructor(locate: () => Promise<string | undefined>, options: DnsServerOptions = {}) {
    this.#locate = locate;
    this.#reapTimeoutMs = options.reapTimeoutMs ?? 10_000;
    this.#pollMs = options.pollMs ?? 50;
  }

  async state(): Promise<DnsServerState> {
    // Found once; not found (Podman not answering yet) is asked again next time.
    this.#dir ??= await this.#locate().catch(() => undefined);
    const dir = this.#dir;
    if (!dir) return "none";
    const pid = Number.parseInt(await readText(join(dir, "aardvark-dns", "aardvark.pid")), 10);
    if (!Number.isInteger(pid) || pid <= 0) return "none";
    const stat = await readText(`/proc/${pid}/stat`);
    if (!stat) return "gone";
    const state = processStateOf(stat);
    return state === "Z" || state === "X" ? "zombie" : "running";
  }

  /**
   * Waits while the server named by the pid file is a zombie, so that the next network setup
   * starts a new one. Returns the state it ended with ("zombie" only when the wait timed out).
   */
  async settle(): Promise<DnsServerState> {
    const deadline = Date.now() + this.#reapTimeoutMs;
    let state = await this.state();
    while (state === "zombie" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
      state = await this.state();
    }
    return state;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return "";
  }
}
