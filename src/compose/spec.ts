/**
 * The compose file as the compose specification defines it (its JSON Schema, `compose-spec.json`,
 * written here as zod so that shapes, types and unknown keys are checked with the same machinery
 * as the manifest). Every key the specification defines is known, with the types it allows
 * (booleans and numbers may be strings: interpolation makes text); an unknown key is an error,
 * except the `x-` extensions, allowed everywhere. Keys the importer does not read are typed
 * loosely: it tells what happens to each of them (`service-keys.ts`), it never drops one silently.
 */
import { z } from "zod";

/** `x-` extensions may stand beside the keys of any mapping the specification defines. */
function specObject<T extends z.ZodRawShape>(shape: T) {
  return z
    .object(shape)
    .catchall(z.unknown())
    .superRefine((value, context) => {
      for (const key of Object.keys(value))
        if (!(key in shape) && !key.startsWith("x-"))
          context.addIssue({
            code: "custom",
            path: [key],
            message: "unknown key",
            params: { unknownKey: key },
          });
    });
}

const Bool = z.union([z.boolean(), z.string()]);
const Num = z.union([z.number(), z.string()]);
const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const ListOrDict = z.union([z.record(z.string(), Scalar), z.array(z.string())]);
const StringOrList = z.union([z.string(), z.array(z.string())]);
const Command = z.union([z.null(), z.string(), z.array(z.string())]);
const Loose = z.unknown();

const PortLong = specObject({
  name: z.string().optional(),
  mode: z.string().optional(),
  host_ip: z.string().optional(),
  target: Num.optional(),
  published: Num.optional(),
  protocol: z.string().optional(),
  app_protocol: z.string().optional(),
});

const VolumeLong = specObject({
  type: z.enum(["bind", "volume", "tmpfs", "cluster", "npipe", "image"]),
  source: z.string().optional(),
  target: z.string().optional(),
  read_only: Bool.optional(),
  consistency: z.string().optional(),
  bind: specObject({
    propagation: z.string().optional(),
    create_host_path: Bool.optional(),
    recursive: z.string().optional(),
    selinux: z.string().optional(),
  }).optional(),
  volume: specObject({
    labels: ListOrDict.optional(),
    nocopy: Bool.optional(),
    subpath: z.string().optional(),
  }).optional(),
  tmpfs: specObject({ size: Num.optional(), mode: Num.optional() }).optional(),
  image: specObject({ subpath: z.string().optional() }).optional(),
});

const Healthcheck = specObject({
  disable: Bool.optional(),
  interval: z.string().optional(),
  retries: Num.optional(),
  test: StringOrList.optional(),
  timeout: z.string().optional(),
  start_period: z.string().optional(),
  start_interval: z.string().optional(),
});

const DependsOn = z.union([
  z.array(z.string()),
  z.record(
    z.string(),
    specObject({
      condition: z.enum(["service_started", "service_healthy", "service_completed_successfully"]),
      restart: Bool.optional(),
      required: z.boolean().optional(),
    }),
  ),
]);

const ServiceNetwork = z.union([
  z.null(),
  specObject({
    aliases: z.array(z.string()).optional(),
    interface_name: z.string().optional(),
    ipv4_address: z.string().optional(),
    ipv6_address: z.string().optional(),
    link_local_ips: z.array(z.string()).optional(),
    mac_address: z.string().optional(),
    driver_opts: Loose.optional(),
    priority: z.number().optional(),
    gw_priority: z.number().optional(),
  }),
]);

const Resources = specObject({
  cpus: Num.optional(),
  memory: Num.optional(),
  pids: Num.optional(),
  generic_resources: Loose.optional(),
  devices: Loose.optional(),
});

const Deploy = z.union([
  z.null(),
  specObject({
    mode: z.string().optional(),
    endpoint_mode: z.string().optional(),
    replicas: Num.optional(),
    labels: ListOrDict.optional(),
    rollback_config: Loose.optional(),
    update_config: Loose.optional(),
    resources: specObject({ limits: Resources.optional(), reservations: Resources.optional() }).optional(),
    restart_policy: Loose.optional(),
    placement: Loose.optional(),
  }),
]);

const EnvFile = z.union([
  z.string(),
  z.array(
    z.union([
      z.string(),
      specObject({ path: z.string(), format: z.string().optional(), required: Bool.optional() }),
    ]),
  ),
]);

const Device = z.union([
  z.string(),
  specObject({ source: z.string(), target: z.string().optional(), permissions: z.string().optional() }),
]);

const ConfigOrSecretUse = z.array(
  z.union([
    z.string(),
    specObject({
      source: z.string().optional(),
      target: z.string().optional(),
      uid: z.string().optional(),
      gid: z.string().optional(),
      mode: Num.optional(),
    }),
  ]),
);

const serviceShape = {
  develop: Loose.optional(),
  deploy: Deploy.optional(),
  annotations: ListOrDict.optional(),
  attach: Bool.optional(),
  build: Loose.optional(),
  blkio_config: Loose.optional(),
  cap_add: z.array(z.string()).optional(),
  cap_drop: z.array(z.string()).optional(),
  cgroup: z.string().optional(),
  cgroup_parent: z.string().optional(),
  command: Command.optional(),
  configs: ConfigOrSecretUse.optional(),
  container_name: z.string().optional(),
  cpu_count: Num.optional(),
  cpu_percent: Num.optional(),
  cpu_shares: Num.optional(),
  cpu_quota: Num.optional(),
  cpu_period: Num.optional(),
  cpu_rt_period: Num.optional(),
  cpu_rt_runtime: Num.optional(),
  cpus: Num.optional(),
  cpuset: z.string().optional(),
  credential_spec: Loose.optional(),
  depends_on: DependsOn.optional(),
  device_cgroup_rules: z.array(z.string()).optional(),
  devices: z.array(Device).optional(),
  dns: StringOrList.optional(),
  dns_opt: z.array(z.string()).optional(),
  dns_search: StringOrList.optional(),
  domainname: z.string().optional(),
  entrypoint: Command.optional(),
  env_file: EnvFile.optional(),
  label_file: StringOrList.optional(),
  environment: ListOrDict.optional(),
  expose: z.array(Num).optional(),
  extends: z.union([z.string(), specObject({ service: z.string(), file: z.string().optional() })]).optional(),
  provider: Loose.optional(),
  external_links: z.array(z.string()).optional(),
  extra_hosts: z.union([z.record(z.string(), StringOrList), z.array(z.string())]).optional(),
  gpus: Loose.optional(),
  group_add: z.array(Num).optional(),
  healthcheck: Healthcheck.optional(),
  hostname: z.string().optional(),
  image: z.string().optional(),
  init: Bool.optional(),
  ipc: z.string().optional(),
  isolation: z.string().optional(),
  labels: ListOrDict.optional(),
  links: z.array(z.string()).optional(),
  logging: Loose.optional(),
  mac_address: z.string().optional(),
  mem_limit: Num.optional(),
  mem_reservation: Num.optional(),
  mem_swappiness: Num.optional(),
  memswap_limit: Num.optional(),
  network_mode: z.string().optional(),
  models: Loose.optional(),
  networks: z.union([z.array(z.string()), z.record(z.string(), ServiceNetwork)]).optional(),
  oom_kill_disable: Bool.optional(),
  oom_score_adj: Num.optional(),
  pid: z.union([z.string(), z.null()]).optional(),
  pids_limit: Num.optional(),
  platform: z.string().optional(),
  ports: z.array(z.union([z.number(), z.string(), PortLong])).optional(),
  post_start: Loose.optional(),
  pre_stop: Loose.optional(),
  privileged: Bool.optional(),
  profiles: z.array(z.string()).optional(),
  pull_policy: z.string().optional(),
  pull_refresh_after: z.string().optional(),
  read_only: Bool.optional(),
  restart: z.string().optional(),
  runtime: z.string().optional(),
  scale: Num.optional(),
  security_opt: z.array(z.string()).optional(),
  shm_size: Num.optional(),
  secrets: ConfigOrSecretUse.optional(),
  sysctls: ListOrDict.optional(),
  stdin_open: Bool.optional(),
  stop_grace_period: z.string().optional(),
  stop_signal: z.string().optional(),
  storage_opt: Loose.optional(),
  tmpfs: StringOrList.optional(),
  tty: Bool.optional(),
  ulimits: Loose.optional(),
  use_api_socket: z.boolean().optional(),
  user: Num.optional(),
  uts: z.string().optional(),
  userns_mode: z.string().optional(),
  volumes: z.array(z.union([z.string(), VolumeLong])).optional(),
  volumes_from: z.array(z.string()).optional(),
  working_dir: z.string().optional(),
};

export const ServiceSchema = specObject(serviceShape);

const External = z.union([Bool, specObject({ name: z.string().optional() })]);

const TopVolume = z.union([
  z.null(),
  specObject({
    name: z.string().optional(),
    driver: z.string().optional(),
    driver_opts: Loose.optional(),
    external: External.optional(),
    labels: ListOrDict.optional(),
  }),
]);

const TopNetwork = z.union([
  z.null(),
  specObject({
    name: z.string().optional(),
    driver: z.string().optional(),
    driver_opts: Loose.optional(),
    ipam: Loose.optional(),
    external: External.optional(),
    internal: Bool.optional(),
    enable_ipv4: Bool.optional(),
    enable_ipv6: Bool.optional(),
    attachable: Bool.optional(),
    labels: ListOrDict.optional(),
  }),
]);

const TopSecretOrConfig = specObject({
  name: z.string().optional(),
  content: z.string().optional(),
  environment: z.string().optional(),
  file: z.string().optional(),
  external: External.optional(),
  labels: ListOrDict.optional(),
  driver: z.string().optional(),
  driver_opts: Loose.optional(),
  template_driver: z.string().optional(),
});

const Include = z.union([
  z.string(),
  specObject({
    path: StringOrList,
    env_file: StringOrList.optional(),
    project_directory: z.string().optional(),
  }),
]);

const SERVICE_NAME = /^[a-zA-Z0-9._-]+$/;

export const ComposeSchema = specObject({
  version: z.string().optional(),
  name: z.string().optional(),
  include: z.array(Include).optional(),
  services: z
    .record(
      z.string().regex(SERVICE_NAME, "service names are letters, digits, '.', '_' and '-'"),
      ServiceSchema,
    )
    .optional(),
  models: Loose.optional(),
  networks: z.record(z.string(), TopNetwork).optional(),
  volumes: z.record(z.string(), TopVolume).optional(),
  secrets: z.record(z.string(), TopSecretOrConfig).optional(),
  configs: z.record(z.string(), TopSecretOrConfig).optional(),
});

export type ComposeFile = z.output<typeof ComposeSchema>;
export type Service = z.output<typeof ServiceSchema>;
export type PortEntry = NonNullable<Service["ports"]>[number];
export type VolumeEntry = NonNullable<Service["volumes"]>[number];
export type LongVolume = z.output<typeof VolumeLong>;
export type HealthcheckSpec = z.output<typeof Healthcheck>;

/** The keys a service may have, by the specification (for "did you mean"). */
export const SERVICE_KEYS: readonly string[] = Object.keys(serviceShape);

/** Go's strconv.ParseBool, which Compose uses for booleans written as text. */
export function composeBool(value: boolean | string | undefined): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  return undefined;
}
