/**
 * Secrets never reach the daemon's log (SPEC invariant 4): a daemon run in-process at the most verbose
 * level, its log captured, is driven through setup, logins (right and wrong), calls carrying the
 * session cookie, the CSRF token and the CLI token, refused calls, the event stream and logout; then
 * every captured line is searched for the password, the session tokens, the CSRF tokens and the CLI
 * token.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import WebSocket from "ws";
import { REDACTED_PATHS } from "../../src/daemon/daemon.ts";
import { http, login, ok, PASSWORD, post, rpc, setup, startDaemon } from "./support.ts";

test("no password, session token, CSRF token or CLI token appears in the daemon's log", async () => {
  const d = await startDaemon({ logLevel: "trace" });
  const secrets = new Map<string, string>();
  try {
    secrets.set("password", PASSWORD);
    const first = await setup(d.port);
    secrets.set("setup session token", first.token);
    secrets.set("setup CSRF token", first.csrf);
    const cliToken = readFileSync(d.tokenFile, "utf8").trim();
    secrets.set("CLI token", cliToken);

    // Wrong passwords (close to the right one), then the right one.
    for (const wrong of [`${PASSWORD}!`, PASSWORD.toUpperCase()]) {
      secrets.set(`wrong password ${wrong}`, wrong);
      await rpc(d.port, "auth.login", { password: wrong });
    }
    const session = await login(d.port, PASSWORD, { cookie: first.cookie });
    secrets.set("session token", session.token);
    secrets.set("CSRF token", session.csrf);

    // Calls with every credential, accepted and refused.
    await ok(d.port, "package.install", { id: "api-gamma" }, session);
    await ok(d.port, "package.credentials", { id: "api-gamma" }, session);
    await ok(d.port, "package.list", {}, { bearer: cliToken });
    await ok(d.port, "package.stop", { id: "api-gamma" }, { bearer: cliToken });
    await rpc(d.port, "package.start", { id: "api-gamma" }, { cookie: session.cookie });
    await rpc(d.port, "package.start", { id: "api-gamma" }, { ...session, origin: "http://evil.example" });
    await rpc(d.port, "package.start", { id: "api-gamma", password: PASSWORD }, session);
    await rpc(d.port, "auth.setup", { password: PASSWORD });
    await rpc(d.port, "auth.login", { password: PASSWORD, token: cliToken, csrfToken: session.csrf });
    await post(
      d.port,
      `{"jsonrpc":"2.0","id":1,"method":"auth.login","params":{"password":"${PASSWORD}"`,
      {},
    );
    await post(
      d.port,
      { jsonrpc: "2.0", id: 1, method: "auth.login", params: { password: PASSWORD } },
      {
        headers: { "content-type": "text/plain" },
      },
    );
    await http(d.port, {
      path: `/rpc/v1?token=${cliToken}`,
      headers: { authorization: `Bearer ${cliToken}` },
    });
    await http(d.port, {
      path: "/metrics",
      headers: { cookie: session.cookie, "x-csrf-token": session.csrf },
    });

    // The event stream, authenticated both ways and refused.
    for (const headers of [
      { cookie: session.cookie },
      { authorization: `Bearer ${cliToken}` },
      { cookie: "archy_session=forged" },
    ]) {
      const socket = new WebSocket(`ws://127.0.0.1:${d.port}/ws/v1`, { headers });
      await new Promise<void>((resolve, reject) => {
        socket.on("message", () => socket.close());
        socket.on("close", () => resolve());
        socket.on("error", reject);
      });
    }
    await ok(d.port, "auth.logout", {}, session);
  } finally {
    await d.close();
  }

  const lines = d.logs.flatMap((chunk) => chunk.split("\n")).filter((line) => line !== "");
  assert.ok(lines.length >= 4, `the log was captured (${lines.length} lines)`);
  for (const line of lines) JSON.parse(line); // structured: every line is JSON
  const leaks: string[] = [];
  for (const [what, secret] of secrets)
    for (const [index, line] of lines.entries())
      if (line.includes(secret) || line.includes(encodeURIComponent(secret)))
        leaks.push(`${what} in line ${index + 1}: ${line}`);
  assert.deepEqual(leaks, []);
});

test("the log's redaction covers the fields that carry credentials", () => {
  for (const path of ["password", "token", "csrfToken", "req.headers.cookie", "req.headers.authorization"])
    assert.ok(REDACTED_PATHS.includes(path), path);
});
