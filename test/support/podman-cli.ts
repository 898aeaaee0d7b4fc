/**
 * How Podman 5.4's CLI reads the option values a generated `podman run` passes it, for tests that
 * check what a Quadlet unit really asks for: the same parsing, rewritten from Podman's source.
 */
import assert from "node:assert/strict";

export type PodmanSecret = {
  source: string;
  type: string;
  target: string;
  uid?: string;
  gid?: string;
  mode?: string;
};

/** A --secret value as Podman 5.4 parses it (pkg/specgenutil parseSecrets). */
export function podmanSecret(value: string): PodmanSecret {
  const [source, ...options] = value.split(",");
  const parsed: Record<string, string> = { source: source as string };
  for (const option of options) {
    const [name, ...rest] = option.split("=");
    assert.ok(rest.length > 0, `--secret option ${option} is not name=value`);
    assert.ok(
      ["type", "target", "uid", "gid", "mode"].includes(name as string),
      `unknown --secret option ${option}`,
    );
    assert.ok(!((name as string) in parsed), `--secret sets ${name} twice`);
    parsed[name as string] = rest.join("=");
  }
  return parsed as PodmanSecret;
}

export function bySource(a: PodmanSecret, b: PodmanSecret): number {
  return `${a.source}|${a.target}` < `${b.source}|${b.target}` ? -1 : 1;
}

/** Go's strings.Fields separators (unicode.IsSpace). */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** The healthcheck Test Podman 5.4 makes of --health-cmd (pkg/specgenutil MakeHealthCheckFromCli). */
export function podmanHealthTest(command: string): string[] {
  let words: string[];
  let isArray = true;
  try {
    const parsed = JSON.parse(command) as unknown;
    if (!Array.isArray(parsed) || parsed.some((w) => typeof w !== "string")) throw new Error("not a list");
    words = parsed as string[];
  } catch {
    const space = command.indexOf(" ");
    words = space < 0 ? [command] : [command.slice(0, space), command.slice(space + 1)];
    isArray = false;
  }
  const first = (words[0] ?? "").toUpperCase();
  if (first === "CMD" || first === "NONE") words = command.split(GO_SPACE).filter((w) => w !== "");
  else if (first !== "CMD-SHELL")
    words = isArray && words.length > 1 ? ["CMD", ...words] : ["CMD-SHELL", words.join(" ")];
  return (words[0] ?? "").toUpperCase() === "NONE" ? ["NONE"] : words;
}
