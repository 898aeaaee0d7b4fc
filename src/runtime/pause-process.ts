/**
 * Podman's error when a user's pause process (which holds the rootless user namespace) died while
 * its pid file stayed: every command then fails until `podman system migrate` starts a new one
 * (containers and images are kept). Seen when a test user's processes were all killed between runs.
 */
export const PAUSE_PROCESS_GONE = /invalid internal status, try resetting the pause process/;
