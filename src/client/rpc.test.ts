/**
 * The typed client: what it sends (the CLI token, or the session's CSRF token it keeps), what a
 * refusal becomes (the daemon's words, code and data), and — checked by tsc, not at run time — that
 * a method, param or result field that the contract does not have is a compile error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Result } from "../api/contract.ts";
import { RPC_CODES } from "../api/rpc/errors.ts";
import { isRpcError, RpcCallError, TransportError } from "./errors.ts";
import { ApiClient } from "./rpc.ts";

type Sent = { url: string; headers: Record<string, string>; body: { method: string; params: unknown } };

/** A fetch that records each request and answers with what `answer` returns for its method. */
function fakeFetch(answer: (method: string, params: unknown) => unknown) {
  const sent: Sent[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    const body = JSON.parse(String(init.body)) as Sent["body"] & { id: number };
    sent.push({ url, headers: init.headers as Record<string, string>, body });
    const reply = answer(body.method, body.params);
    if (reply instanceof Error) throw reply;
    return new Response(
      typeof reply === "string"
        ? reply
        : JSON.stringify({ jsonrpc: "2.0", id: body.id, ...(reply as object) }),
      {
        status: 200,
      },
    );
  }) as unknown as typeof globalThis.fetch;
  return { fetch, sent };
}

const SESSION = { csrfToken: "csrf-1", expiresAt: 1 };

test("a browser client keeps the CSRF token of its session and sends it; a logout forgets it", async () => {
  const { fetch, sent } = fakeFetch((method) =>
    method === "package.install"
      ? { result: { operationId: "op-1", appId: "a", kind: "install", existing: false } }
      : method === "auth.logout"
        ? { result: { ok: true } }
        : { result: SESSION },
  );
  const client = new ApiClient({ auth: { kind: "browser" }, fetch, baseUrl: "http://127.0.0.1:1/" });
  await client.call("auth.login", { password: "a long password" });
  const accepted = await client.call("package.install", { id: "a" });
  assert.equal(accepted.operationId, "op-1");
  await client.call("auth.logout");
  await client.call("package.install", { id: "a" });
  assert.deepEqual(
    sent.map((s) => [s.body.method, s.headers["x-csrf-token"]]),
    [
      ["auth.login", undefined],
      ["package.install", "csrf-1"],
      ["auth.logout", "csrf-1"],
      ["package.install", undefined],
    ],
  );
  assert.equal(sent[0]?.url, "http://127.0.0.1:1/rpc/v1");
  assert.deepEqual(sent[2]?.body.params, {}, "a method without params sends {}");
});

test("a token client sends the CLI token, and reads it again once when it is refused", async () => {
  let token = "old";
  const { fetch, sent } = fakeFetch(() =>
    sent.at(-1)?.headers.authorization === "Bearer new"
      ? { result: [] }
      : { error: { code: RPC_CODES.unauthenticated, message: "not logged in" } },
  );
  const client = new ApiClient({
    auth: {
      kind: "token",
      token: () => token,
      refresh: () => {
        token = "new";
        return true;
      },
    },
    fetch,
  });
  assert.deepEqual(await client.call("package.list"), []);
  assert.deepEqual(
    sent.map((s) => s.headers.authorization),
    ["Bearer old", "Bearer new"],
  );
});

test("a refusal keeps the daemon's message, code, data and hint; the browser is told to log in", async () => {
  const unauthenticated: RpcCallError[] = [];
  const { fetch } = fakeFetch((method) =>
    method === "catalog.refresh"
      ? {
          error: {
            code: RPC_CODES.notFound,
            message: "no catalog source x: see catalog.sources",
            data: { fix: "add it first" },
          },
        }
      : { error: { code: RPC_CODES.unauthenticated, message: "not logged in: call auth.login first" } },
  );
  const client = new ApiClient({
    auth: { kind: "browser" },
    fetch,
    onUnauthenticated: (error) => unauthenticated.push(error),
  });
  const refused = await client.call("catalog.refresh", { name: "x" }).catch((error: unknown) => error);
  assert.ok(refused instanceof RpcCallError);
  assert.equal(refused.message, "no catalog source x: see catalog.sources");
  assert.equal(refused.codeName, "notFound");
  assert.equal(refused.hint, "add it first");
  assert.deepEqual(refused.data, { fix: "add it first" });
  assert.ok(isRpcError(refused, "notFound") && !isRpcError(refused, "unauthenticated"));
  await assert.rejects(client.call("package.list"), (error) => isRpcError(error, "unauthenticated"));
  assert.equal(unauthenticated.length, 1, "the owner hears of the lost session");
  // A wrong password is no lost session.
  await assert.rejects(client.call("auth.login", { password: "wrong one!!" }));
  assert.equal(unauthenticated.length, 1);
});

test("no answer, or an answer that is not the daemon's, is a TransportError naming the method", async () => {
  const down = new ApiClient({
    auth: { kind: "browser" },
    fetch: fakeFetch(() => new TypeError("fetch failed")).fetch,
  });
  await assert.rejects(
    down.call("system.info"),
    (error) => error instanceof TransportError && /cannot reach the daemon: fetch failed/.test(error.message),
  );
  const proxy = new ApiClient({
    auth: { kind: "browser" },
    fetch: fakeFetch(() => "<html>bad gateway</html>").fetch,
  });
  await assert.rejects(
    proxy.call("system.info"),
    (error) => error instanceof TransportError && error.method === "system.info",
  );
});

/** Never run: its lines are checked by tsc (`npm run typecheck`), each `@ts-expect-error` must be one. */
async function compileOnly(client: ApiClient): Promise<void> {
  const apps = await client.call("package.list");
  const phase: Result<"package.list">[number]["phase"] = apps[0]?.phase ?? "running";
  void phase;
  await client.call("package.uninstall", { id: "a" }); // purge has a default: may be left out
  await client.call("package.logs", { id: "a", tail: 10 });
  // @ts-expect-error a method the contract does not have
  await client.call("package.instal", { id: "a" });
  // @ts-expect-error a misspelt param
  await client.call("package.install", { idd: "a" });
  // @ts-expect-error a required param left out
  await client.call("package.install", {});
  // @ts-expect-error params of the wrong type
  await client.call("package.logs", { id: "a", tail: "10" });
  // @ts-expect-error a method that needs params, called without
  await client.call("package.get");
  // @ts-expect-error a result field that does not exist
  void apps[0]?.phse;
  // @ts-expect-error a phase that does not exist
  const wrong: Result<"package.get">["phase"] = "runing";
  void wrong;
  const info = await client.call("system.info");
  // @ts-expect-error system.info has no field "backends"
  void info.backends;
}
void compileOnly;
