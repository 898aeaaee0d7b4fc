/**
 * A response whose result is already JSON (`SerializedResult`) is written as bytes around it; any
 * other goes to the transport as it is. What a client parses is the same either way.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type RpcResponse, responseBody, SerializedResult } from "./dispatch.ts";

const serialized = (value: unknown) => new SerializedResult(Buffer.from(JSON.stringify(value)));
const parsed = (body: unknown) => JSON.parse((body as Buffer).toString("utf8"));

test("a response without a serialized result is left to the transport, unchanged", () => {
  const response: RpcResponse = { jsonrpc: "2.0", id: 1, result: [{ id: "a" }] };
  assert.equal(responseBody(response), response);
  const batch: RpcResponse[] = [response, { jsonrpc: "2.0", id: 2, error: { code: -32601, message: "no" } }];
  assert.equal(responseBody(batch), batch);
});

test("a serialized result is written into its envelope, whatever the request's id", () => {
  for (const id of [7, 'call "7"', null]) {
    const body = responseBody({ jsonrpc: "2.0", id, result: serialized([{ id: "a", n: 1 }]) });
    assert.ok(Buffer.isBuffer(body));
    assert.deepEqual(parsed(body), { jsonrpc: "2.0", id, result: [{ id: "a", n: 1 }] });
  }
});

test("a batch with a serialized result keeps every answer, in order", () => {
  const body = responseBody([
    { jsonrpc: "2.0", id: 1, result: { plain: true } },
    { jsonrpc: "2.0", id: 2, result: serialized(["ü", 2]) },
    { jsonrpc: "2.0", id: 3, error: { code: -32602, message: "bad", data: { field: "id" } } },
  ]);
  assert.deepEqual(parsed(body), [
    { jsonrpc: "2.0", id: 1, result: { plain: true } },
    { jsonrpc: "2.0", id: 2, result: ["ü", 2] },
    { jsonrpc: "2.0", id: 3, error: { code: -32602, message: "bad", data: { field: "id" } } },
  ]);
});
