/**
 * Which backend creates new containers: plain Podman (containers made through the API, started by
 * the daemon) or Quadlet (units the user's systemd runs, which also start them at boot). What
 * Quadlet needs is read from the node once, as the daemon starts (`readQuadletFacts`); the choice
 * is a pure function of those facts (`chooseBackend`), with its reason in words for the log and
 * `system.info`. Existing containers are never decided here: their labels say which backend owns
 * them (runtime.ts).
 */
import { accessSync, constants, existsSync } from "node:fs";
import { join } from "node:path";
import { exec } from "../system/exec.ts";
import type { Backend } from "./observed.ts";
import type { SystemdUser } from "./systemd.ts";

export type RequestedBackend = "auto" | Backend;

/** Podman gained Quadlet in 4.4. */
export const QUADLET_MIN_PODMAN: readonly [number, number] = [4, 4];

/** Where systemd looks for user generators, in its order; Podman installs Quadlet's as this name. */
export const USER_GENERATOR_DIRS = [
  "/etc/systemd/user-generators",
  "/run/systemd/user-generators",
  "/usr/local/lib/systemd/user-generators",
  "/usr/lib/systemd/user-generators",
  "/lib/systemd/user-generators",
];
export const QUADLET_USER_GENERATOR = "podman-user-generator";

/** What the node offers Quadlet, as read by `readQuadletFacts`. */
export type QuadletFacts = {
  /** The user the daemon runs as (whose systemd would run the units). */
  user: string;
  /** The version `podman --version` printed; undefined when it did not run. */
  podmanVersion: string | undefined;
  /** Whether the user's systemd manager answers, and what `systemctl --user is-system-running` said. */
  userSystemd: { answers: boolean; said: string };
  /** Whether the user lingers: their manager starts at boot, without a login. */
  linger: boolean;
  /** The Quadlet generator where systemd runs user generators; undefined when there is none. */
  generator: string | undefined;
};

export type BackendChoice = { backend: Backend; reason: string };

/** `--backend quadlet` on a node without Quadlet: one line saying what is missing and the fix. */
export class BackendUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendUnavailable";
  }
}

/** Parses `podman version 5.4.2` (or `5.4.2`) into [major, minor]; undefined when it is not a version. */
export function podmanRelease(version: string | undefined): [number, number] | undefined {
  const match = /(\d+)\.(\d+)/.exec(version ?? "");
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** What Quadlet lacks on this node, each with its fix; empty when Quadlet can run the apps. */
export function quadletMissing(facts: QuadletFacts): string[] {
  const missing: string[] = [];
  const release = podmanRelease(facts.podmanVersion);
  const [major, minor] = QUADLET_MIN_PODMAN;
  if (!release)
    missing.push(
      `Podman's version is unknown (podman --version did not run): install Podman ${major}.${minor} or later`,
    );
  else if (release[0] < major || (release[0] === major && release[1] < minor))
    missing.push(
      `Podman ${facts.podmanVersion} has no Quadlet: upgrade to Podman ${major}.${minor} or later (Debian 13, Ubuntu 24.04)`,
    );
  if (!facts.userSystemd.answers)
    missing.push(
      `no systemd user manager answers for ${facts.user} (systemctl --user is-system-running: ${facts.userSystemd.said || "no answer"}): run on a machine booted with systemd, with XDG_RUNTIME_DIR=/run/user/$(id -u ${facts.user})`,
    );
  if (!facts.linger)
    missing.push(
      `${facts.user} does not linger, so its units would not start at boot: loginctl enable-linger ${facts.user}`,
    );
  if (!facts.generator)
    missing.push(
      `systemd has no Quadlet generator to run (no ${QUADLET_USER_GENERATOR} in /usr/lib/systemd/user-generators or another user generator directory): install a Podman that ships Quadlet (Debian's podman from 4.4)`,
    );
  return missing;
}

function present(facts: QuadletFacts): string {
  return `Podman ${facts.podmanVersion}, ${facts.user}'s systemd ${facts.userSystemd.said} with linger, generator ${facts.generator}`;
}

/**
 * The backend for new containers. `auto` takes Quadlet where the node has everything it needs and
 * plain Podman elsewhere; `quadlet` where something is missing is refused (`BackendUnavailable`):
 * a daemon that cannot create what it was told to must not start.
 */
export function chooseBackend(
  requested: RequestedBackend,
  facts: QuadletFacts,
  origin: string,
): BackendChoice {
  if (requested === "podman") return { backend: "podman", reason: `plain Podman, as configured (${origin})` };
  const missing = quadletMissing(facts);
  if (requested === "quadlet") {
    if (missing.length > 0)
      throw new BackendUnavailable(
        `${origin}: the Quadlet backend is not available on this node: ${missing.join("; ")}. Fix that, or use --backend podman (or auto, which picks plain Podman here)`,
      );
    return { backend: "quadlet", reason: `Quadlet, as configured (${origin}): ${present(facts)}` };
  }
  if (missing.length === 0)
    return { backend: "quadlet", reason: `Quadlet, chosen by auto: ${present(facts)}` };
  return {
    backend: "podman",
    reason: `plain Podman, chosen by auto: Quadlet is not available (${missing.join("; ")})`,
  };
}

/** The Quadlet generator where systemd runs user generators, if any. */
export function findUserGenerator(dirs: readonly string[] = USER_GENERATOR_DIRS): string | undefined {
  for (const dir of dirs) {
    const path = join(dir, QUADLET_USER_GENERATOR);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

/** Reads what Quadlet needs from this node: a few files and two short commands. */
export async function readQuadletFacts(options: {
  user: string;
  systemd: SystemdUser;
  podmanPath?: string;
}): Promise<QuadletFacts> {
  const [version, userSystemd] = await Promise.all([
    exec(options.podmanPath ?? "podman", ["--version"], { timeoutMs: 10_000 }),
    options.systemd.systemState(),
  ]);
  return {
    user: options.user,
    podmanVersion: version.code === 0 ? version.stdout.trim().replace(/^podman version /, "") : undefined,
    userSystemd,
    linger: existsSync(join("/var/lib/systemd/linger", options.user)),
    generator: findUserGenerator(),
  };
}
