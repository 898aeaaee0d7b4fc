/**
 * A local image registry for the demo and for trying image pulls by hand, as the tests run it
 * (test/support/registry.ts): Debian's docker-registry on a free loopback port, TLS from a CA made
 * for it, basic auth with a generated password, and the test image pushed into it with skopeo. The
 * rootless test user's Podman trusts the CA for that host:port only (certs.d), until this stops.
 *
 *   node_modules/.bin/node scripts/test-registry.ts   # as root, after `archy doctor --fix`
 *
 * It prints the registry's address, the credentials, the image pinned by digest and a manifest
 * line to use it; Ctrl-C stops the registry and removes its files and the trust.
 */
import { startRegistry } from "../test/support/registry.ts";

const registry = await startRegistry();
const image = await registry.push("archy/busybox:1");
process.stdout.write(
  [
    `registry:  https://${registry.host} (CA: ${registry.caFile})`,
    `login:     ${registry.username} / ${registry.password}`,
    `image:     ${image.pinned}`,
    "",
    "In a manifest:",
    `    image: ${image.pinned}`,
    "Give the node the credentials (the password is read from stdin, never argv):",
    `    echo '${registry.password}' | archy registry login ${registry.host} --username ${registry.username}`,
    "",
    "Ctrl-C stops the registry.",
    "",
  ].join("\n"),
);
await new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
await registry.stop();
