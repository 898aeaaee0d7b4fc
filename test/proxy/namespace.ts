/**
 * Another machine for the app-access tests: a network namespace of the test's own, joined to the
 * host by a veth pair on a /30 of 10.0.0.0/8 that no interface of the host uses. A client there is
 * not on loopback: it reaches only what the host serves on the pair's host address. `close()`
 * removes the namespace and its link. Needs root (as CI runs).
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { exec } from "../../src/system/exec.ts";

export type Namespace = {
  name: string;
  /** The host's end of the pair: where the namespace reaches the host. */
  hostAddress: string;
  /** The namespace's own address. */
  address: string;
  /** A command run inside the namespace. */
  run: (file: string, args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** curl inside the namespace (silent but for errors, 10 s at most). */
  curl: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  close: () => Promise<void>;
};

export function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(file, args, { timeoutMs: 30_000 });
}

export async function must(file: string, args: string[]): Promise<string> {
  const result = await run(file, args);
  assert.equal(result.code, 0, `${file} ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** A /30 of 10.0.0.0/8 that no interface of the host uses. */
async function freeNet(): Promise<string> {
  const used = await must("ip", ["-o", "-4", "addr"]);
  for (let attempt = 0; attempt < 50; attempt++) {
    const net = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
    if (!used.includes(` ${net}.`)) return net;
  }
  throw new Error("no free 10.x.y.0/30 for the test namespace");
}

export async function makeNamespace(tag: string): Promise<Namespace> {
  assert.equal(process.getuid?.(), 0, "this test makes a network namespace: run it as root (as CI does)");
  const suffix = randomInt(0x10000).toString(16).padStart(4, "0");
  const name = `archy-${tag}-${suffix}`;
  const hostLink = `a${tag}${suffix}h`;
  const nsLink = `a${tag}${suffix}n`;
  const net = await freeNet();
  const inside = (file: string, args: string[]) => run("ip", ["netns", "exec", name, file, ...args]);
  const close = async () => {
    await run("ip", ["link", "del", hostLink]);
    await run("ip", ["netns", "del", name]);
  };
  try {
    await must("ip", ["netns", "add", name]);
    await must("ip", ["link", "add", hostLink, "type", "veth", "peer", "name", nsLink]);
    await must("ip", ["link", "set", nsLink, "netns", name]);
    await must("ip", ["addr", "add", `${net}.1/30`, "dev", hostLink]);
    await must("ip", ["link", "set", hostLink, "up"]);
    await must("ip", ["netns", "exec", name, "ip", "addr", "add", `${net}.2/30`, "dev", nsLink]);
    await must("ip", ["netns", "exec", name, "ip", "link", "set", nsLink, "up"]);
    await must("ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    name,
    hostAddress: `${net}.1`,
    address: `${net}.2`,
    run: inside,
    curl: (args) => inside("curl", ["-sS", "-m", "10", ...args]),
    close,
  };
}
