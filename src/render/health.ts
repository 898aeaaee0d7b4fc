/**
 * Health checks as commands run inside the container, for Podman's healthcheck (both backends run
 * the same command, so a container's health means the same whichever backend created it).
 *
 * - `exec`: the manifest's command, run directly (no shell).
 * - `tcp`: a POSIX `sh` loop over /proc/net/tcp{,6} looking for a socket listening on the port. It
 *   uses only shell built-ins, so it works in any image that has `/bin/sh`, even without nc or curl.
 * - `http`: `curl` when the image has it, else `wget` (busybox or GNU), comparing the status of the
 *   response to the GET itself with the expected one: a redirect is its 3xx status, never followed
 *   (curl without -L; wget follows, so the first status line it prints is the one compared). Needs
 *   `/bin/sh` and one of the two clients. (Busybox wget's `-T` crashes with the static busybox of
 *   Debian 12, so the probe relies on Podman's own timeout instead.)
 */
import type { HealthSpec } from "../manifest/schema.ts";
import { ceilSeconds } from "./model.ts";

/** Quotes a word for POSIX sh. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The probe script of a `tcp` or `http` check (one line, for `sh -c`). */
export function probeScript(health: Exclude<HealthSpec, { type: "exec" }>): string {
  if (health.type === "tcp") {
    const port = health.port.toString(16).toUpperCase().padStart(4, "0");
    return (
      'for f in /proc/net/tcp /proc/net/tcp6; do [ -r "$f" ] || continue; ' +
      `while read -r _ a _ s _; do case "$a $s" in *:${port}" 0A") exit 0;; esac; done < "$f"; done; exit 1`
    );
  }
  const url = shQuote(`http://127.0.0.1:${health.port}${health.path}`);
  const seconds = Math.max(1, ceilSeconds(health.timeout));
  return (
    `u=${url}; if command -v curl >/dev/null 2>&1; ` +
    `then r="HTTP/1.1 $(curl -s -o /dev/null -m ${seconds} -w '%{http_code}' "$u")"; ` +
    `else r=$(wget -S -q -O /dev/null "$u" 2>&1); fi; ` +
    `case "$r" in *"HTTP/1."[01]" "*) r=\${r#*HTTP/1.[01] };; *) exit 1;; esac; ` +
    `case "$r" in "${health.status}"|"${health.status} "*) exit 0;; esac; exit 1`
  );
}

/** The healthcheck `Test` in Docker/Podman form: `["CMD", argv...]` or `["CMD-SHELL", script]`. */
export function healthTest(health: HealthSpec): string[] {
  return health.type === "exec" ? ["CMD", ...health.command] : ["CMD-SHELL", probeScript(health)];
}

/** The probe as an argument vector, for the daemon to run inside the container itself. */
export function probeCommand(health: HealthSpec): string[] {
  return health.type === "exec" ? health.command : ["/bin/sh", "-c", probeScript(health)];
}

/** A duration in milliseconds in Go's syntax, as Podman's --health-* flags take it. */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
