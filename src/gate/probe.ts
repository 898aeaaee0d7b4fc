/**
 * Reaching an app as an operator would, on the loopback address only: an HTTP(S) GET of an
 * interface, or a TCP connect. Each attempt is bounded in time and reports what it saw.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tcpConnect } from "../system/tcp.ts";
import { describeTarget, type ReachTarget, statusMatches } from "./reachability.ts";

export type ProbeResult = { ok: boolean; observed: string };

function get(
  protocol: "http" | "https",
  port: number,
  path: string,
  timeoutMs: number,
): Promise<ProbeResult & { status?: number }> {
  return new Promise((resolve) => {
    const request = (protocol === "https" ? httpsRequest : httpRequest)(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "GET",
        timeout: timeoutMs,
        // A node's interface may use a self-signed certificate; the gate checks reachability, not trust.
        ...(protocol === "https" ? { rejectUnauthorized: false } : {}),
      },
      (response) => {
        response.resume();
        response.on("end", () =>
          resolve({ ok: true, observed: `HTTP ${response.statusCode}`, status: response.statusCode }),
        );
        response.on("error", (error) =>
          resolve({ ok: false, observed: `reading the answer failed: ${error.message}` }),
        );
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on("error", (error) => resolve({ ok: false, observed: (error as Error).message }));
    request.end();
  });
}

/** One attempt at one target. */
export async function probeTarget(target: ReachTarget, timeoutMs = 3_000): Promise<ProbeResult> {
  if (target.kind === "tcp") {
    const result = await tcpConnect("127.0.0.1", target.hostPort, timeoutMs);
    return { ok: result.ok, observed: `${describeTarget(target)}: ${result.observed}` };
  }
  const result = await get(target.protocol, target.hostPort, target.path, timeoutMs);
  const ok = result.status !== undefined && statusMatches(target, result.status);
  return {
    ok,
    observed: `${target.protocol}://127.0.0.1:${target.hostPort}${target.path}: ${result.observed}`,
  };
}

/** Every target, once: ok when all answer as expected. */
export async function probeAll(targets: readonly ReachTarget[]): Promise<ProbeResult> {
  const results = await Promise.all(targets.map((t) => probeTarget(t)));
  return { ok: results.every((r) => r.ok), observed: results.map((r) => r.observed).join("; ") };
}
