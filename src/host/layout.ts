/** Where host setup puts things on a node, shared by `archy doctor`, the tests and the runtime. */

/** The dedicated unprivileged user the daemon runs as when started by root. */
export const SERVICE_USER = "archipelago";
/** The unprivileged user the rootless test suite drives Podman as. */
export const TEST_USER = "archy-test";
/** Debian 13's Quadlet generator, unpacked (not installed) for validating rendered units. */
export const QUADLET_GENERATOR = "/opt/archipelago/quadlet/usr/libexec/podman/quadlet";
/** The busybox-based image every sample app and test uses (no registry is reachable). */
export const TEST_IMAGE = "localhost/archy-test/busybox:1";
