/**
 * Every rule id the validator can emit has a failing case in a test: a new rule without a test fails
 * this suite. Rule ids are the `"family.name"` string literals of src/manifest/*.ts.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";

const here = new URL("./", import.meta.url);

/** Dotted literals in the sources that are not rule ids. */
const NOT_RULES = new Set(["alice.relay", "app.env", "io.archipelago", "manifest.yml", "manifest.yaml"]);

/** Each rule id and the test file that holds its failing cases (as `rule: "<id>"`). */
const COVERED: Record<string, string> = {
  "file.read": "load.test.ts",
  "file.app-file": "load.test.ts",
  "envfile.syntax": "load.test.ts",
  "yaml.size": "parse.test.ts",
  "yaml.syntax": "parse.test.ts",
  "yaml.duplicate-key": "parse.test.ts",
  "yaml.aliases": "parse.test.ts",
  "yaml.depth": "parse.test.ts",
  "yaml.literal": "parse.test.ts",
  "schema.type": "parse.test.ts",
  "schema.missing": "parse.test.ts",
  "schema.value": "parse.test.ts",
  "schema.format": "parse.test.ts",
  "schema.range": "parse.test.ts",
  "schema.key": "parse.test.ts",
  "schema.unknown-key": "parse.test.ts",
  "security.forbidden-key": "parse.test.ts",
  "ref.secret": "semantics.test.ts",
  "consumers.reserved": "consumers.test.ts",
  "set.consumer": "app-set.test.ts",
  "interp.syntax": "interpolation.test.ts",
  "limits.ulimit": "process-limits.test.ts",
  "limits.shm-size": "process-limits.test.ts",
  "ref.container": "semantics.test.ts",
  "ref.dependency": "semantics.test.ts",
  "ref.port": "semantics.test.ts",
  "ref.volume": "semantics.test.ts",
  "ref.backup-hook": "semantics.test.ts",
  "cycle.depends-on": "semantics.test.ts",
  "cycle.dependency": "semantics.test.ts",
  "clash.dependency": "semantics.test.ts",
  "clash.container-name": "semantics.test.ts",
  "naming.reserved": "semantics.test.ts",
  "clash.host-port": "semantics.test.ts",
  "clash.container-port": "semantics.test.ts",
  "clash.alias": "semantics.test.ts",
  "clash.mount": "semantics.test.ts",
  "health.depends-on": "semantics.test.ts",
  "health.hook-wait": "semantics.test.ts",
  "job.depends-on": "semantics.test.ts",
  "job.health": "semantics.test.ts",
  "job.serves": "semantics.test.ts",
  "health.timing": "semantics.test.ts",
  "health.port": "semantics.test.ts",
  "limits.memory": "semantics.test.ts",
  "limits.stop-timeout": "semantics.test.ts",
  "limits.stop-signal": "semantics.test.ts",
  "limits.data-uid": "semantics.test.ts",
  "limits.hook-timeout": "semantics.test.ts",
  "limits.user": "renderable.test.ts",
  "limits.name": "renderable.test.ts",
  "limits.argument": "renderable.test.ts",
  "health.command": "renderable.test.ts",
  "ref.permission": "security.test.ts",
  "security.host-path": "security.test.ts",
  "security.device": "security.test.ts",
  "security.capability": "security.test.ts",
  "security.volume": "security.test.ts",
  "security.low-port": "security.test.ts",
  "security.path": "security.test.ts",
  "security.text": "security.test.ts",
  "security.url": "security.test.ts",
  "set.duplicate-id": "app-set.test.ts",
  "set.host-port": "app-set.test.ts",
  "set.dependency-health": "app-set.test.ts",
  "set.dependency-version": "app-set.test.ts",
  "set.export": "app-set.test.ts",
  "set.dependency-cycle": "app-set.test.ts",
  "set.container-name": "app-set.test.ts",
  "access.public-path": "access.test.ts",
  "access.public-paths": "access.test.ts",
  "access.exposed-interface": "access.test.ts",
  "icon.remote-url": "icon.test.ts",
};

function emittedRules(): Set<string> {
  const rules = new Set<string>();
  for (const name of readdirSync(here)) {
    if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
    const source = readFileSync(new URL(name, here), "utf8");
    for (const match of source.matchAll(/"([a-z]+\.[a-z][a-z-]*)"/g)) {
      const id = match[1] as string;
      if (!NOT_RULES.has(id)) rules.add(id);
    }
  }
  return rules;
}

test("the sources emit the rules this table knows (and found some)", () => {
  const rules = emittedRules();
  assert.ok(rules.size >= 40, `only ${rules.size} rule ids found: is the pattern still right?`);
  const untested = [...rules].filter((rule) => !(rule in COVERED)).sort();
  assert.deepEqual(
    untested,
    [],
    "rules without a test: add failing and passing cases and list them in COVERED",
  );
  const stale = Object.keys(COVERED).filter((rule) => !rules.has(rule));
  assert.deepEqual(stale, [], "rules in COVERED that no source emits any more");
});

test("each covered rule has a case in the test file named for it", () => {
  const missing = Object.entries(COVERED).filter(
    ([rule, file]) => !readFileSync(new URL(file, here), "utf8").includes(`rule: "${rule}"`),
  );
  assert.deepEqual(missing, []);
});
