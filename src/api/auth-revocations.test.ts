/**
 * Auth counts its revocations: the app proxy trusts a check of an operator session for a short
 * while (src/proxy/sessions.ts) and drops that trust when the count moves, so every way this daemon
 * ends sessions must move it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Store } from "../orchestrator/store.ts";
import { Auth } from "./auth.ts";

const dir = mkdtempSync(join(tmpdir(), "archy-auth-revocations-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a logout, a logout of all sessions and a password change each move the revocation count; a login does not", async () => {
  const store = new Store(":memory:");
  const auth = new Auth({ store, cliTokenFile: join(dir, "cli-token") });
  const caller = { address: "127.0.0.1", deviceCookie: undefined, cliToken: false };
  const first = await auth.setup("first password");
  assert.equal(auth.revocations, 0);
  const second = await auth.login("first password", caller);
  assert.equal(auth.revocations, 0, "a login ends no session");
  auth.logout(first.token);
  assert.equal(auth.revocations, 1);
  assert.equal(auth.session(first.token), undefined);
  auth.logoutAll();
  assert.equal(auth.revocations, 2);
  assert.equal(auth.session(second.token), undefined);
  await auth.changePassword("first password", "second password", caller);
  assert.equal(auth.revocations, 3);
  store.close();
});
