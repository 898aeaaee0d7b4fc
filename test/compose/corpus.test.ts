/**
 * `archy app import` over a corpus of real compose files: the 167 apps of the CasaOS app store
 * (test/fixtures/compose/casaos-appstore, Apache-2.0, see its SOURCE.md). Each is imported as the
 * command does (files read, project assembled, converted, the manifest checked by the validator),
 * without writing anything. The figures are printed: how many give a valid manifest with no manual
 * step (no line to decide), how many need the developer to decide something (and what, most often),
 * and how many fail, and why.
 *
 * What must hold: no file crashes the importer; every failure is an error line placed in the file;
 * the share of imports with no manual step stays at least where it is (a floor against
 * regressions: it counts, it is no time bound).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { importCompose } from "../../src/compose/import.ts";

const CORPUS = new URL("../fixtures/compose/casaos-appstore/", import.meta.url).pathname;
/** What the importer reached (135 of 167, 80.8%; 126 when this test was written): it may only go up. */
const MIN_NO_MANUAL_STEP = 135;

test("the CasaOS corpus: every file imports or fails with a placed error; the figures", {
  timeout: 600_000,
}, async () => {
  const apps = readdirSync(CORPUS, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.equal(apps.length, 167, "the corpus is whole");
  const figures = { clean: 0, toDecide: 0, invalid: 0, failed: 0 };
  const lines = { decide: 0, review: 0, info: 0 };
  const decisions = new Map<string, number>();
  const failures: string[] = [];
  for (const app of apps) {
    const file = join(CORPUS, app, "docker-compose.yml");
    let result: Awaited<ReturnType<typeof importCompose>>;
    try {
      result = await importCompose({ files: [file], out: join("/nonexistent", app), cwd: CORPUS });
    } catch (error) {
      assert.fail(`${app}: the importer crashed: ${(error as Error).stack}`);
    }
    for (const line of result.lines) if (line.level !== "error") lines[line.level]++;
    const errors = result.lines.filter((l) => l.level === "error");
    if (errors.length > 0) {
      figures.failed++;
      for (const error of errors)
        assert.match(error.file, /docker-compose\.yml|\.env/, `${app}: ${error.message}`);
      failures.push(`${app}: ${errors[0]?.file}:${errors[0]?.line}: ${errors[0]?.message}`);
      continue;
    }
    if (!result.ok) {
      figures.invalid++;
      failures.push(`${app}: invalid manifest: ${result.issues[0]?.path}: ${result.issues[0]?.message}`);
      continue;
    }
    const decide = result.lines.filter((l) => l.level === "decide");
    if (decide.length === 0) figures.clean++;
    else {
      figures.toDecide++;
      const kindOf = (subject: string, message: string) =>
        `${
          subject
            .replace(/^services\.[^.]+\.?/, "")
            .replace(/\[\d+\]/g, "")
            .split(".")[0] || "service"
        }: ${message.replace(/:.*$/, "").replace(/\s\S*\/\S*/g, " …")}`;
      for (const kind of new Set(decide.map((l) => kindOf(l.subject, l.message))))
        decisions.set(kind, (decisions.get(kind) ?? 0) + 1);
    }
  }
  const total = apps.length;
  const percent = (n: number) => `${((100 * n) / total).toFixed(1)}%`;
  console.log(`compose corpus (${total} CasaOS apps):`);
  console.log(`  valid manifest, no manual step:    ${figures.clean} (${percent(figures.clean)})`);
  console.log(`  valid manifest, lines to decide:   ${figures.toDecide} (${percent(figures.toDecide)})`);
  console.log(`  invalid manifest:                  ${figures.invalid}`);
  console.log(`  failed to import:                  ${figures.failed}`);
  console.log(
    `  report lines: ${lines.decide} to decide, ${lines.review} to review, ${lines.info} for information`,
  );
  console.log("  what the developer must decide, by the number of apps:");
  for (const [kind, count] of [...decisions].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`    ${String(count).padStart(3)}  ${kind}`);
  for (const failure of failures) console.log(`  failed: ${failure}`);
  assert.equal(
    figures.invalid,
    0,
    `every import that converts gives a valid manifest:\n${failures.join("\n")}`,
  );
  assert.ok(
    figures.clean >= MIN_NO_MANUAL_STEP,
    `${figures.clean} imports with no manual step, fewer than ${MIN_NO_MANUAL_STEP}`,
  );
});
