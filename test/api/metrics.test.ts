/**
 * GET /metrics is valid Prometheus text (format 0.0.4) with the archy_* series: every family declared
 * once with HELP and TYPE before its samples, well-formed names, labels and values, histograms with
 * cumulative buckets ending in +Inf = _count; and the values follow what happened (RPC calls, app
 * phases, finished operations). Callers cannot create series at will.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { http, ok, post, rpc, type Session, setup, startDaemon, type TestDaemon } from "./support.ts";

type Sample = { name: string; labels: Record<string, string>; value: number };
type Family = { name: string; type: string; help: string; samples: Sample[] };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let at = 0;
  while (at < text.length) {
    LABEL.lastIndex = at;
    const match = LABEL.exec(text);
    assert.ok(match, `a label at ${at} in: ${line}`);
    const [all, key, raw] = match as unknown as [string, string, string];
    assert.ok(!(key in labels), `label ${key} once: ${line}`);
    labels[key] = raw.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    at += all.length;
    if (at < text.length) {
      assert.equal(text[at], ",", `labels separated by commas: ${line}`);
      at++;
    }
  }
  return labels;
}

/** Parses the text exposition format strictly enough to catch what a Prometheus server would refuse. */
export function parsePrometheus(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  const families = new Map<string, Family>();
  const familyOf = (sample: string) => {
    for (const suffix of ["_bucket", "_sum", "_count", ""]) {
      const base = suffix && sample.endsWith(suffix) ? sample.slice(0, -suffix.length) : sample;
      const family = families.get(base);
      if (family && (suffix === "" || family.type === "histogram")) return family;
    }
    return undefined;
  };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      assert.match(name, NAME, line);
      const family = families.get(name) ?? { name, type: "", help: "", samples: [] };
      if (kind === "TYPE") {
        assert.equal(family.type, "", `one TYPE for ${name}`);
        assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(rest), line);
        assert.equal(family.samples.length, 0, `TYPE before the samples of ${name}`);
        family.type = rest;
      } else {
        assert.equal(family.help, "", `one HELP for ${name}`);
        assert.ok(rest.length > 0, `a HELP text for ${name}`);
        family.help = rest;
      }
      families.set(name, family);
      continue;
    }
    assert.ok(!line.startsWith("#"), `no other comments: ${line}`);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string];
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    assert.ok(!Number.isNaN(value) || valueText === "NaN", `a number: ${line}`);
    const family = familyOf(name);
    assert.ok(family?.type, `${name} belongs to a declared family`);
    family.samples.push({ name, labels: labelText ? parseLabels(labelText, line) : {}, value });
  }
  for (const family of families.values()) {
    if (family.type === "counter")
      for (const s of family.samples) assert.ok(s.value >= 0, `a counter is never negative: ${s.name}`);
    if (family.type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const s of family.samples) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, samples] of series) {
      const buckets = samples.filter((s) => s.name === `${family.name}_bucket`);
      const count = samples.find((s) => s.name === `${family.name}_count`);
      const sum = samples.find((s) => s.name === `${family.name}_sum`);
      assert.ok(count && sum, `${family.name}${key} has _sum and _count`);
      assert.equal(buckets.at(-1)?.labels.le, "+Inf", `${family.name}${key} ends with +Inf`);
      assert.equal(buckets.at(-1)?.value, count.value, "+Inf = _count");
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(
          Number(buckets[i]?.labels.le) > Number(buckets[i - 1]?.labels.le) ||
            buckets[i]?.labels.le === "+Inf",
        );
        assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0), "cumulative buckets");
      }
    }
  }
  return families;
}

const value = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  [...families.values()]
    .flatMap((family) => family.samples)
    .find(
      (s) =>
        s.name === name &&
        Object.keys(labels).length === Object.keys(s.labels).length &&
        Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    )?.value;

describe("/metrics", () => {
  let d: TestDaemon;
  let session: Session;
  before(async () => {
    d = await startDaemon();
    session = await setup(d.port);
  });
  after(() => d.close());

  async function scrape() {
    const response = await http(d.port, { path: "/metrics" });
    assert.equal(response.status, 200);
    assert.match(String(response.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(response.text);
  }

  test("is valid Prometheus text with every archy_* family, without a session", async () => {
    const families = await scrape();
    const expected: Record<string, string> = {
      archy_operations_total: "counter",
      archy_operation_duration_seconds: "histogram",
      archy_reconcile_passes_total: "counter",
      archy_store_writes_total: "counter",
      archy_podman_call_duration_seconds: "histogram",
      archy_rpc_calls_total: "counter",
      archy_apps: "gauge",
      archy_podman_connected: "gauge",
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(families.get(name)?.type, type, name);
    for (const name of families.keys()) assert.match(name, /^archy_/);
    assert.equal(value(families, "archy_podman_connected"), 0, "Podman never answered");
    assert.equal(value(families, "archy_reconcile_passes_total"), 0, "no pass without Podman");
  });

  test("counts RPC calls by method and outcome, and apps by phase", async () => {
    const before = await scrape();
    const infoBefore = value(before, "archy_rpc_calls_total", { method: "system.info", outcome: "ok" }) ?? 0;
    for (let i = 0; i < 3; i++) await ok(d.port, "system.info", {}, {});
    await rpc(d.port, "package.list", {});
    await ok(d.port, "package.install", { id: "api-alpha" }, session);
    await ok(d.port, "package.install", { id: "api-gamma" }, session);
    const after = await scrape();
    assert.equal(
      value(after, "archy_rpc_calls_total", { method: "system.info", outcome: "ok" }),
      infoBefore + 3,
    );
    assert.ok(
      (value(after, "archy_rpc_calls_total", { method: "package.list", outcome: "-32001" }) ?? 0) >= 1,
    );
    assert.equal(value(after, "archy_apps", { phase: "installing" }), 2);
  });

  test("a finished operation is counted with its duration", async () => {
    // A stop supersedes the install in flight: the install ends (failed).
    await ok(d.port, "package.stop", { id: "api-alpha" }, session);
    const families = await scrape();
    assert.equal(value(families, "archy_operations_total", { kind: "install", outcome: "failed" }), 1);
    assert.equal(value(families, "archy_operation_duration_seconds_count", { kind: "install" }), 1);
    assert.equal(value(families, "archy_apps", { phase: "stopping" }), 1);
  });

  test("callers cannot create series: unknown methods and batches share fixed labels", async () => {
    const bearer = readFileSync(d.tokenFile, "utf8").trim();
    const names = ["made.up.1", "made.up.2", 'quote"and\nnewline', "__proto__"];
    for (const method of names) await rpc(d.port, method, {}, { bearer });
    await post(d.port, [{ jsonrpc: "2.0", id: 1, method: "system.info" }, { nonsense: true }], { bearer });
    const families = await scrape();
    const methods = new Set(families.get("archy_rpc_calls_total")?.samples.map((s) => s.labels.method));
    for (const method of names) assert.ok(!methods.has(method), `no series for ${JSON.stringify(method)}`);
    assert.equal(
      value(families, "archy_rpc_calls_total", { method: "unknown", outcome: "-32601" }),
      names.length,
    );
    assert.ok((value(families, "archy_rpc_calls_total", { method: "invalid", outcome: "-32600" }) ?? 0) >= 1);
  });

  test("counts the store's writes: a recorded operation writes, reading the list does not", async () => {
    // The first list after an install keeps the parsed manifests in the store (once per manifest).
    await ok(d.port, "package.list", {}, session);
    const start = value(await scrape(), "archy_store_writes_total");
    assert.equal(typeof start, "number");
    for (let i = 0; i < 3; i++) await ok(d.port, "package.list", {}, session);
    const afterReads = value(await scrape(), "archy_store_writes_total");
    assert.equal(afterReads, start, "package.list and /metrics wrote nothing");
    await ok(d.port, "package.stop", { id: "api-gamma" }, session);
    const afterStop = value(await scrape(), "archy_store_writes_total") ?? 0;
    assert.ok(
      afterStop > (afterReads ?? 0),
      `a stop recorded its intent and operation (${afterReads} -> ${afterStop})`,
    );
  });

  test("/healthz answers while Podman does not", async () => {
    const response = await http(d.port, { path: "/healthz" });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { ok: true });
  });
});
