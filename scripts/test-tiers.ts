/**
 * Counts, from the suite's JUnit report, the tests that ran against real Podman and inside the
 * systemd test node (suites named "real Podman: …" and "systemd node…"), so the test command shows
 * how much of the suite touched real infrastructure. Skipped and failed tests are not counted.
 */
import { readFileSync } from "node:fs";

const TIERS = [
  { name: "real Podman", prefix: "real Podman" },
  { name: "systemd node", prefix: "systemd node" },
];

const xml = readFileSync(process.argv[2] as string, "utf8");
const cases = [...xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)];
const parts = TIERS.map(({ name, prefix }) => {
  const ran = cases.filter((match) => {
    const classname = /classname="([^"]*)"/.exec(match[1] ?? "")?.[1] ?? "";
    const body = match[3] ?? "";
    return classname.startsWith(prefix) && !/<(skipped|failure|error)\b/.test(body);
  });
  return `${ran.length} passed against ${name}`;
});
console.log(`test: tiers: ${parts.join(", ")}`);
