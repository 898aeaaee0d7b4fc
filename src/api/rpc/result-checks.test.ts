/**
 * Results are checked against their schemas in tests and development and not from the build: the
 * switch (result-checks.ts) says so, and a check that is on catches a result of the wrong shape, an
 * error to the caller and to the log, never the bad result. That every handler's result is exactly
 * its schema's output, so that skipping the check changes no answer, is test/api/contract.test.ts's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { dispatch, type MethodDefinition } from "./dispatch.ts";
import { RPC_CODES } from "./errors.ts";
import { resultChecks } from "./result-checks.ts";

const SOURCES = "file:///opt/archipelago/src/api/rpc/result-checks.ts";
const BUILD = "file:///opt/archipelago/dist/chunk-ABCDEF.js";

test("the switch: checked from the sources, not from the build; ARCHY_CHECK_RESULTS=1|0 decides over both", () => {
  assert.equal(resultChecks(undefined, SOURCES), true);
  assert.equal(resultChecks(undefined, BUILD), false);
  assert.equal(resultChecks("1", BUILD), true);
  assert.equal(resultChecks("0", SOURCES), false);
  assert.equal(resultChecks(), process.env.ARCHY_CHECK_RESULTS !== "0", "this test configuration checks");
});

test("with the check on (the test configuration), a result of the wrong shape is an internal error, never sent", async () => {
  const errors: string[] = [];
  const method: MethodDefinition<undefined> = {
    name: "thing.get",
    summary: "",
    access: "public",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({ count: z.number() }),
    handler: () => ({ count: "three", secret: "s3cr3t" }),
  };
  const call = (checkResults: boolean) =>
    dispatch(
      { jsonrpc: "2.0", id: 1, method: "thing.get" },
      {
        methods: new Map([[method.name, method]]),
        auth: { authenticated: false, csrfValid: false, originOk: true },
        ctx: undefined,
        checkResults,
        onError: (_method, error) => errors.push((error as Error).message),
      },
    );
  const checked = (await call(resultChecks())) as { error?: { code: number }; result?: unknown };
  assert.equal(checked.error?.code, RPC_CODES.internalError);
  assert.equal(checked.result, undefined);
  assert.match(errors[0] ?? "", /result of thing\.get does not match its schema/);
  // Off, the handler's result goes as it is: why every handler's must be exact (contract.test.ts).
  const unchecked = (await call(false)) as { result?: unknown };
  assert.deepEqual(unchecked.result, { count: "three", secret: "s3cr3t" });
});
