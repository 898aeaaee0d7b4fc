import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import { AppProxy } from "./app-proxy.ts";
import type { AppSessions } from "./sessions.ts";

test("an app proxy that holds no stream arms no timer (an idle node is not woken to check sessions)", async () => {
  const armed: number[] = [];
  const setIntervalBefore = globalThis.setInterval;
  const setTimeoutBefore = globalThis.setTimeout;
  // Every timer armed while the proxy is made, whether or not it keeps the process alive (unref).
  globalThis.setInterval = ((handler: () => void, ms?: number) => {
    armed.push(ms ?? 0);
    return setIntervalBefore(handler, ms);
  }) as typeof setInterval;
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    armed.push(ms ?? 0);
    return setTimeoutBefore(handler, ms);
  }) as typeof setTimeout;
  let proxy: AppProxy | undefined;
  try {
    proxy = new AppProxy({
      sessions: {} as AppSessions,
      logger: pino({ level: "silent" }),
      isNodeCookie: () => false,
      loginUrl: () => "https://localhost/app-login",
    });
  } finally {
    globalThis.setInterval = setIntervalBefore;
    globalThis.setTimeout = setTimeoutBefore;
  }
  await proxy?.close();
  assert.deepEqual(armed, [], "timers armed by a proxy with no stream held (ms)");
});
