/**
 * Processes found by what they are, not by a pid remembered from earlier: a pid whose process has
 * exited is handed to the next process the system starts (pid_max is 32768 on many hosts, and a
 * full test run starts tens of thousands), so a signal to a remembered pid can end an unrelated
 * process — another test file's daemon, say.
 */
import { readdirSync, readFileSync } from "node:fs";

/** The processes whose command line is `podman … service … unix://<socket>`: the Podman services listening there. */
export function podmanServicesOn(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.includes("service") && argv.includes(`unix://${socket}`)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}
