import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  BackendUnavailable,
  chooseBackend,
  findUserGenerator,
  podmanRelease,
  type QuadletFacts,
  quadletMissing,
} from "./backend-choice.ts";

/** The systemd test node: everything Quadlet needs. */
const NODE: QuadletFacts = {
  user: "node",
  podmanVersion: "5.4.2",
  userSystemd: { answers: true, said: "running" },
  linger: true,
  generator: "/usr/lib/systemd/user-generators/podman-user-generator",
};
/** The test machines: Debian 12's Podman, no systemd. */
const PLAIN_HOST: QuadletFacts = {
  user: "archipelago",
  podmanVersion: "4.3.1",
  userSystemd: { answers: false, said: "offline" },
  linger: false,
  generator: undefined,
};

describe("backend choice", () => {
  test("podman versions: Quadlet from 4.4", () => {
    assert.deepEqual(podmanRelease("4.3.1"), [4, 3]);
    assert.deepEqual(podmanRelease("podman version 5.4.2"), [5, 4]);
    assert.equal(podmanRelease(undefined), undefined);
    assert.equal(podmanRelease("garbage"), undefined);
    const missingFor = (podmanVersion: string | undefined) =>
      quadletMissing({ ...NODE, podmanVersion }).join("; ");
    assert.equal(missingFor("4.4.0"), "");
    assert.equal(missingFor("10.0.1"), "");
    assert.match(missingFor("4.3.1"), /Podman 4\.3\.1 has no Quadlet: upgrade to Podman 4\.4 or later/);
    assert.match(missingFor("3.9.9"), /Podman 3\.9\.9 has no Quadlet/);
    assert.match(missingFor(undefined), /Podman's version is unknown/);
  });

  test("auto takes Quadlet where the node has everything, and says what it found", () => {
    const choice = chooseBackend("auto", NODE, "the default (auto)");
    assert.equal(choice.backend, "quadlet");
    assert.match(
      choice.reason,
      /^Quadlet, chosen by auto: Podman 5\.4\.2, node's systemd running with linger/,
    );
    assert.match(choice.reason, /podman-user-generator/);
  });

  test("auto takes plain Podman elsewhere, naming everything Quadlet lacks", () => {
    const choice = chooseBackend("auto", PLAIN_HOST, "the default (auto)");
    assert.equal(choice.backend, "podman");
    assert.match(choice.reason, /^plain Podman, chosen by auto: Quadlet is not available \(/);
    for (const missing of [
      /Podman 4\.3\.1 has no Quadlet/,
      /no systemd user manager answers for archipelago \(systemctl --user is-system-running: offline\)/,
      /loginctl enable-linger archipelago/,
      /systemd has no Quadlet generator to run/,
    ])
      assert.match(choice.reason, missing);
    // Each lack alone is enough to fall back.
    for (const lack of [
      { podmanVersion: "4.3.1" },
      { userSystemd: { answers: false, said: "offline" } },
      { linger: false },
      { generator: undefined },
    ])
      assert.equal(
        chooseBackend("auto", { ...NODE, ...lack }, "auto").backend,
        "podman",
        JSON.stringify(lack),
      );
  });

  test("--backend quadlet where Quadlet is missing: refused in one line, with what is missing and the fix", () => {
    assert.throws(
      () => chooseBackend("quadlet", { ...NODE, linger: false }, "--backend quadlet"),
      (error: unknown) => {
        assert.ok(error instanceof BackendUnavailable);
        assert.equal(error.message.includes("\n"), false, "one line");
        assert.match(
          error.message,
          /^--backend quadlet: the Quadlet backend is not available on this node: node does not linger, so its units would not start at boot: loginctl enable-linger node\. Fix that, or use --backend podman/,
        );
        return true;
      },
    );
    assert.throws(
      () => chooseBackend("quadlet", PLAIN_HOST, "ARCHY_BACKEND=quadlet"),
      /Podman 4\.3\.1 has no Quadlet.*offline.*linger.*generator/,
    );
    assert.equal(chooseBackend("quadlet", NODE, "--backend quadlet").backend, "quadlet");
  });

  test("--backend podman is taken as it is, Quadlet or not", () => {
    for (const facts of [NODE, PLAIN_HOST])
      assert.deepEqual(chooseBackend("podman", facts, "--backend podman"), {
        backend: "podman",
        reason: "plain Podman, as configured (--backend podman)",
      });
  });
});

describe("finding the Quadlet generator", () => {
  const dir = mkdtempSync(join(tmpdir(), "archy-generators-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("only an executable podman-user-generator in a generator directory counts", () => {
    const [first, second] = [join(dir, "etc"), join(dir, "usr")];
    mkdirSync(first);
    mkdirSync(second);
    assert.equal(findUserGenerator([first, second]), undefined);
    // Present but not executable (the unpacked validation copy would be a different path anyway).
    writeFileSync(join(first, "podman-user-generator"), "");
    assert.equal(findUserGenerator([first, second]), undefined);
    // Debian's: a symlink to /usr/libexec/podman/quadlet.
    const quadlet = join(dir, "quadlet");
    writeFileSync(quadlet, "#!/bin/sh\n");
    chmodSync(quadlet, 0o755);
    symlinkSync(quadlet, join(second, "podman-user-generator"));
    assert.equal(findUserGenerator([first, second]), join(second, "podman-user-generator"));
    // A dangling symlink does not count.
    rmSync(quadlet);
    assert.equal(findUserGenerator([first, second]), undefined);
  });
});
