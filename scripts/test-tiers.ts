/**
 * Counts, from the suite's JUnit report, the tests that ran against real Podman and inside the
 * systemd test node: tests inside a suite (at any depth) named "real Podman: …" or "systemd node…",
 * so the test command shows how much of the suite touched real infrastructure. Skipped and failed
 * tests are not counted.
 */
import { readFileSync } from "node:fs";

const TIERS = [
  { name: "real Podman", prefix: "real Podman" },
  { name: "systemd node", prefix: "systemd node" },
];

const xml = readFileSync(process.argv[2] as string, "utf8");
const counts = new Map(TIERS.map((t) => [t.name, 0]));
const suites: string[] = [];
const tags = /<(\/?)(testsuite|testcase)\b([^>]*?)(\/?)>([\s\S]*?)(?=<\/?(?:testsuite|testcase)\b|$)/g;
for (const [, closing, tag, attributes = "", selfClosing, body = ""] of xml.matchAll(tags)) {
  if (tag === "testsuite") {
    if (closing) suites.pop();
    else if (!selfClosing) suites.push(/name="([^"]*)"/.exec(attributes)?.[1] ?? "");
    continue;
  }
  if (closing) continue;
  const classname = /classname="([^"]*)"/.exec(attributes)?.[1] ?? "";
  const failedOrSkipped = !selfClosing && /<(skipped|failure|error)\b/.test(body);
  if (failedOrSkipped) continue;
  const context = [...suites, classname];
  for (const tier of TIERS)
    if (context.some((name) => name.startsWith(tier.prefix)))
      counts.set(tier.name, (counts.get(tier.name) ?? 0) + 1);
}
console.log(`test: tiers: ${TIERS.map((t) => `${counts.get(t.name)} passed against ${t.name}`).join(", ")}`);
