/** Pure logic about the Debian packages a node needs. */

/**
 * Everything rootless Podman needs on Debian 12, restic (the backup engine, see src/backup/restic.ts),
 * plus tools host setup and the tests use.
 */
export const REQUIRED_PACKAGES = [
  "podman",
  "runc",
  "uidmap",
  "slirp4netns",
  "busybox-static",
  "fuse-overlayfs",
  "netavark",
  "aardvark-dns",
  "catatonit",
  "iptables",
  "dbus-user-session",
  "debootstrap",
  "curl",
  // The tests' own image registry (TLS, basic auth) and the tool that pushes images into it
  // (test/support/registry.ts, scripts/test-registry.ts); openssl makes its test CA.
  "docker-registry",
  "skopeo",
  "openssl",
  "restic",
  // The web UI's browser tests drive Debian's Chromium (Playwright's own download is not used), and
  // it needs one font to draw text.
  "chromium",
  "fonts-dejavu-core",
  // certutil: the /trust page's command for Chromium on Linux is run as written (test/proxy/trust-nss.test.ts).
  "libnss3-tools",
] as const;

/**
 * Services Debian starts when their package is installed that a node must not run: the registry
 * serves the tests (started by them, on loopback, with TLS and auth), never the package's own
 * unauthenticated one on port 5000.
 */
export const UNWANTED_SERVICES = ["docker-registry.service"] as const;

/** The `dpkg-query` format `missingPackages` parses: name, status abbreviation, version. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax
export const DPKG_QUERY_FORMAT = "${Package}\\t${db:Status-Abbrev}\\t${Version}\\n";

/**
 * The packages of `wanted` that `dpkg-query -W -f DPKG_QUERY_FORMAT wanted...` output does not show
 * installed. A package is installed when the second letter of its status abbreviation is `i`
 * (`ii`, `hi`); unknown packages do not appear in the output at all (dpkg-query says so on stderr).
 */
export function missingPackages(dpkgQueryOutput: string, wanted: readonly string[]): string[] {
  const installed = new Set<string>();
  for (const line of dpkgQueryOutput.split("\n")) {
    const [name, status] = line.split("\t");
    if (name && status && status[1] === "i") installed.add(name.replace(/:.*$/, ""));
  }
  return wanted.filter((name) => !installed.has(name));
}

/**
 * The commands that install `missing` without prompts or recommended extras; with systemd, then
 * stop and disable the services those packages started that a node must not run.
 */
export function installCommands(missing: readonly string[], systemd = false): string[][] {
  if (missing.length === 0) return [];
  const unwanted = UNWANTED_SERVICES.filter((unit) => missing.includes(unit.replace(/\.service$/, "")));
  return [
    ["apt-get", "update"],
    [
      "env",
      "DEBIAN_FRONTEND=noninteractive",
      "apt-get",
      "install",
      "-y",
      "--no-install-recommends",
      ...missing,
    ],
    ...(systemd && unwanted.length > 0 ? [["systemctl", "disable", "--now", ...unwanted]] : []),
  ];
}
