/**
 * What an import does with each key a compose service may have: one declaration per key, so that
 * none is ever dropped without a line in the report. `converted` keys are read by the converter;
 * the others are not carried over, and say so at the level their loss deserves. A test checks that
 * every key of the specification (`SERVICE_KEYS`) is here.
 */
import type { Level } from "./report.ts";

export type KeyHandling = "converted" | { level: Level; message: string; action?: string };

const NO_CPU = {
  level: "info",
  message: "not carried over: the platform sets no CPU limits or shares",
} as const;
const MEMORY_TUNING = {
  level: "info",
  message:
    "not carried over: the platform sets a memory limit only (`memory`, from deploy.resources.limits.memory or mem_limit)",
} as const;

export const SERVICE_KEY_HANDLING: Record<string, KeyHandling> = {
  image: "converted",
  build: "converted",
  command: "converted",
  entrypoint: "converted",
  environment: "converted",
  env_file: "converted",
  ports: "converted",
  expose: "converted",
  volumes: "converted",
  tmpfs: "converted",
  shm_size: "converted",
  ulimits: "converted",
  depends_on: "converted",
  healthcheck: "converted",
  user: "converted",
  cap_add: "converted",
  cap_drop: "converted",
  read_only: "converted",
  networks: "converted",
  network_mode: "converted",
  links: "converted",
  extra_hosts: "converted",
  deploy: "converted",
  mem_limit: "converted",
  privileged: "converted",
  devices: "converted",
  container_name: "converted",
  working_dir: "converted",
  stop_grace_period: "converted",
  stop_signal: "converted",
  profiles: "converted",
  extends: "converted",
  configs: "converted",
  restart: {
    level: "info",
    message:
      "not carried over: the daemon restarts a container that exits (with backoff) and keeps a stopped app stopped",
  },
  labels: {
    level: "info",
    message: "not carried over: container labels are the platform's own (io.archipelago.*)",
  },
  annotations: { level: "info", message: "not carried over: annotations are the platform's own" },
  label_file: { level: "info", message: "not carried over: container labels are the platform's own" },
  logging: { level: "info", message: "not carried over: Podman keeps the output, `archy logs APP` shows it" },
  hostname: {
    level: "info",
    message: "not carried over: containers reach each other by their key and aliases on the app network",
  },
  domainname: { level: "info", message: "not carried over: the container's domain name is Podman's default" },
  mac_address: { level: "info", message: "not carried over: Podman chooses the address" },
  stdin_open: { level: "info", message: "not carried over: app containers run without an attached terminal" },
  tty: { level: "info", message: "not carried over: app containers run without an attached terminal" },
  attach: { level: "info", message: "not carried over: `archy logs APP` shows the output" },
  platform: { level: "info", message: "not carried over: the node runs the image for its own architecture" },
  pull_policy: {
    level: "info",
    message: "not carried over: the node pulls the image when it does not have it",
  },
  pull_refresh_after: { level: "info", message: "not carried over: an update pulls the new image" },
  develop: { level: "info", message: "not carried over: Compose's watch mode is a development tool" },
  credential_spec: { level: "info", message: "not carried over: a Windows container setting" },
  isolation: { level: "info", message: "not carried over: a Windows container setting" },
  cpus: NO_CPU,
  cpu_count: NO_CPU,
  cpu_percent: NO_CPU,
  cpu_shares: NO_CPU,
  cpu_quota: NO_CPU,
  cpu_period: NO_CPU,
  cpu_rt_period: NO_CPU,
  cpu_rt_runtime: NO_CPU,
  cpuset: NO_CPU,
  mem_reservation: MEMORY_TUNING,
  mem_swappiness: MEMORY_TUNING,
  memswap_limit: MEMORY_TUNING,
  oom_kill_disable: MEMORY_TUNING,
  oom_score_adj: MEMORY_TUNING,
  pids_limit: { level: "info", message: "not carried over: the platform sets no process limit" },
  blkio_config: { level: "info", message: "not carried over: the platform sets no block I/O limits" },
  init: {
    level: "review",
    message: "not carried over: the image's own program runs as process 1, with no init in front of it",
    action: "if the program starts children and does not reap them, add an init (tini) to the image",
  },
  dns: {
    level: "review",
    message: "not carried over: the container uses the app network's DNS",
    action: "check that the app needs no DNS server of its own",
  },
  dns_opt: { level: "review", message: "not carried over: the container uses the app network's DNS" },
  dns_search: { level: "review", message: "not carried over: the container uses the app network's DNS" },
  group_add: {
    level: "review",
    message: "not carried over: the process gets no supplementary groups",
    action: "if it needs them to use a device, run it as a user of that group (`user: uid:gid`)",
  },
  storage_opt: { level: "info", message: "not carried over: Podman's storage settings are the node's" },
  scale: {
    level: "decide",
    message: "not carried over: an app runs one container per key",
    action: "run one instance, or declare further containers under other keys",
  },
  external_links: {
    level: "decide",
    message: "not carried over: containers outside the app are not reachable by name",
    action: "depend on the app that runs it and use its exports",
  },
  volumes_from: {
    level: "decide",
    message: "not carried over: containers share data through app volumes",
    action: "mount the same app volume (`name:`) in both containers",
  },
  sysctls: {
    level: "decide",
    message: "not carried over: apps cannot set kernel parameters",
    action: "check whether the app works without them (the node's values apply)",
  },
  security_opt: {
    level: "decide",
    message: "not carried over: every container runs with no-new-privileges and the default confinement",
    action: "check that the app works confined (seccomp, AppArmor/SELinux as the node sets them)",
  },
  device_cgroup_rules: {
    level: "decide",
    message: "not carried over: devices are passed one by one, each with a device permission",
    action: "list the devices the app needs under `devices`, with a permission each",
  },
  gpus: {
    level: "decide",
    message: "not carried over: GPUs are not passed to apps",
    action: "pass the device nodes it needs (/dev/dri, …) with device permissions, or run without a GPU",
  },
  runtime: {
    level: "decide",
    message: "not carried over: containers run with the node's runtime",
    action: "check that the app runs without this runtime (GPU runtimes need device permissions instead)",
  },
  ipc: {
    level: "decide",
    message: "not carried over: containers never share an IPC namespace",
    action: "check that the app works with its own",
  },
  pid: {
    level: "decide",
    message: "not carried over: containers never share a PID namespace",
    action: "check that the app works with its own",
  },
  uts: {
    level: "decide",
    message: "not carried over: containers never share the host's UTS namespace",
    action: "check that the app works with its own",
  },
  userns_mode: {
    level: "decide",
    message: "not carried over: every app runs in the node's rootless user namespace",
  },
  cgroup: {
    level: "decide",
    message: "not carried over: containers never share the host's cgroup namespace",
  },
  cgroup_parent: { level: "info", message: "not carried over: Podman places the container's cgroup" },
  secrets: {
    level: "decide",
    message: "not carried over: compose secrets come from files or the environment of whoever runs Compose",
    action:
      "declare a generated secret under `secrets` and mount it (`secrets:` of the container) or pass it in `environment`",
  },
  post_start: {
    level: "decide",
    message: "not carried over: commands run in the container after it starts are hooks here",
    action: "run them in a `post_install` exec hook, or at the start of the container's command",
  },
  pre_stop: {
    level: "decide",
    message:
      "not carried over: the platform stops a container with its stop signal, then SIGKILL after stop_timeout",
    action: "make the program stop cleanly on its stop signal",
  },
  provider: {
    level: "decide",
    message: "not carried over: a service managed by another provider is not a container",
    action: "run it as a container, or depend on an app that provides it",
  },
  models: {
    level: "decide",
    message: "not carried over: Compose's language models are not a platform feature",
    action: "run the model server as a container of the app",
  },
  use_api_socket: {
    level: "decide",
    message:
      "not carried over: the container engine's socket is never given to an app (it would give the whole host)",
    action: "remove the features that drive containers, or depend on an app that offers what they need",
  },
};
