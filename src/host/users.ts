/** Pure logic about users: /etc/passwd entries and subordinate id ranges (/etc/subuid, /etc/subgid). */

export type PasswdEntry = { name: string; uid: number; gid: number; home: string; shell: string };

/** Parses /etc/passwd content; malformed lines are skipped. */
export function parsePasswd(content: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of content.split("\n")) {
    const fields = line.split(":");
    if (fields.length < 7 || line.startsWith("#")) continue;
    const [name = "", , uid = "", gid = "", , home = "", shell = ""] = fields;
    if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home, shell });
  }
  return entries;
}

/** One line of /etc/subuid or /etc/subgid: `owner:start:count`, owner being a name or a uid. */
export type SubIdRange = { owner: string; start: number; count: number };

/** Parses /etc/subuid or /etc/subgid content; comments, blanks and malformed lines are skipped. */
export function parseSubIds(content: string): SubIdRange[] {
  const ranges: SubIdRange[] = [];
  for (const raw of content.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([^:\s]+):(\d+):(\d+)$/.exec(line);
    if (!match) continue;
    ranges.push({ owner: match[1] as string, start: Number(match[2]), count: Number(match[3]) });
  }
  return ranges;
}

/** The number of subordinate ids each user gets (a whole 16-bit id space, what Podman expects). */
export const SUBID_COUNT = 65536;
/** Where allocation starts (Debian's SUB_UID_MIN). */
export const SUBID_MIN = 100000;

const overlaps = (a: SubIdRange, b: SubIdRange) => a.start < b.start + b.count && b.start < a.start + a.count;
const ownedBy = (range: SubIdRange, user: { name: string; uid: number }) =>
  range.owner === user.name || range.owner === String(user.uid);

export type SubIdStatus = {
  ok: boolean;
  /** What was found, for the report. */
  detail: string;
  /** The user's ranges that overlap another owner's (to be removed). */
  conflicting: SubIdRange[];
};

/**
 * Whether `user` has a usable range: at least one of SUBID_COUNT ids that overlaps no other owner's
 * range, and none of its ranges overlapping another owner's.
 */
export function subIdStatus(ranges: readonly SubIdRange[], user: { name: string; uid: number }): SubIdStatus {
  const mine = ranges.filter((range) => ownedBy(range, user));
  const others = ranges.filter((range) => !ownedBy(range, user));
  const conflicting = mine.filter((range) => others.some((other) => overlaps(range, other)));
  const usable = mine.filter((range) => range.count >= SUBID_COUNT && !conflicting.includes(range));
  const shown = mine.map((range) => `${range.start}-${range.start + range.count - 1}`).join(", ");
  if (mine.length === 0) return { ok: false, detail: "no range", conflicting };
  if (conflicting.length > 0) {
    const with_ = conflicting
      .flatMap((range) => others.filter((other) => overlaps(range, other)).map((other) => other.owner))
      .filter((owner, index, all) => all.indexOf(owner) === index);
    return { ok: false, detail: `${shown} overlaps the range of ${with_.join(", ")}`, conflicting };
  }
  if (usable.length === 0)
    return { ok: false, detail: `${shown} is smaller than ${SUBID_COUNT} ids`, conflicting };
  return { ok: true, detail: shown, conflicting };
}

/**
 * The start of a free range of `count` ids: the lowest multiple-of-`count` offset from SUBID_MIN
 * that overlaps none of `ranges` (ranges about to be removed should not be passed).
 */
export function allocateSubIds(ranges: readonly SubIdRange[], count = SUBID_COUNT): number {
  for (let start = SUBID_MIN; ; start += count) {
    const candidate = { owner: "", start, count };
    if (!ranges.some((range) => overlaps(candidate, range))) return start;
  }
}

/**
 * /etc/subuid or /etc/subgid content without the `remove` ranges (matched exactly) and with `add`
 * appended. Edited directly rather than with `usermod --add-subuids`, which refuses while the user
 * has processes (rootless Podman's pause process is one).
 */
export function rewriteSubIds(content: string, remove: readonly SubIdRange[], add: SubIdRange): string {
  const line = (range: SubIdRange) => `${range.owner}:${range.start}:${range.count}`;
  const dropped = new Set(remove.map(line));
  const kept = content.split("\n").filter((raw) => raw !== "" && !dropped.has(raw.trim()));
  return `${[...kept, line(add)].join("\n")}\n`;
}
