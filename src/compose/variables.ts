/**
 * What the platform answers for the variables compose files of app stores rely on, so that an
 * import needs no environment: the app's id, its data directory, the uid its files belong to, the
 * time zone, and passwords the platform generates. Variables set in the project's `.env` (or the
 * `--env-file` given) come first; the process environment is never read, so an import gives the
 * same app on every machine. Pure.
 *
 * Two answers cannot be plain text: the app's data directory and a generated secret exist only on
 * the node. They are markers (characters of Unicode's private use area, which no compose file
 * holds) that the converter turns into app volumes and `{ secret: … }` values, and reports
 * wherever they land in text it cannot express.
 */
import type { Lookup } from "./interpolate.ts";

const OPEN = "\uE000";
const CLOSE = "\uE001";
/** The app's data directory, as a path prefix: `${APP_DATA_DIR}/config`. */
export const APP_DATA_MARKER = `${OPEN}app-data${CLOSE}`;
export const secretMarker = (name: string): string => `${OPEN}secret:${name}${CLOSE}`;
export const MARKER = new RegExp(`${OPEN}(app-data|secret:[a-z0-9-]+)${CLOSE}`, "g");
export const hasMarker = (text: string): boolean => text.includes(OPEN);

/** The uid and gid an imported app's files belong to (`PUID`, `PGID`). */
export const APP_UID = 1000;
export const DEFAULT_TIME_ZONE = "Etc/UTC";

/**
 * Names that hold a secret: passwords, keys, tokens, salts. Unset, the platform generates one; set
 * to a literal in the file, the converter reports it (every install would share it).
 */
export const SECRET_NAME = /(PASSWORD|PASSWD|(^|_)PASS$|SECRET|TOKEN|(^|_)KEY$|(^|_)SALT$|(^|_)SEED$)/i;

/** A secret's name in the manifest: a DNS label made of the variable's name. */
export function secretName(variable: string): string {
  const label = variable
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return /^[a-z]/.test(label) ? label.slice(0, 63).replace(/-+$/, "") : `s-${label}`.slice(0, 63);
}

export type PlatformVariable = { names: readonly string[]; value: (appId: string) => string; how: string };

/** The variables the platform answers, with what it answers and why, for the report and the docs. */
export const PLATFORM_VARIABLES: readonly PlatformVariable[] = [
  { names: ["AppID", "APP_ID"], value: (id) => id, how: "the app's id" },
  {
    names: ["APP_DATA_DIR", "APP_DATA"],
    value: () => APP_DATA_MARKER,
    how: "the app's data directory: a bind mount under it becomes an app volume",
  },
  {
    names: ["PUID", "PGID", "UID", "GID", "USER_ID", "GROUP_ID"],
    value: () => String(APP_UID),
    how: `${APP_UID}, the uid (and gid) the app's volumes belong to (data_uid ${APP_UID})`,
  },
  {
    names: ["TZ"],
    value: () => DEFAULT_TIME_ZONE,
    how: `${DEFAULT_TIME_ZONE}: the platform gives apps no time zone of the node; write another zone in the manifest if the app shows local times`,
  },
];

/** The lookup an import interpolates with: the `.env` values, then the platform's answers. */
export function importLookup(appId: string, dotenv: ReadonlyMap<string, string>): Lookup {
  return (name) => {
    const set = dotenv.get(name);
    if (set !== undefined) return set;
    const platform = PLATFORM_VARIABLES.find((v) => v.names.includes(name));
    if (platform) return platform.value(appId);
    if (SECRET_NAME.test(name)) return secretMarker(secretName(name));
    return undefined;
  };
}
