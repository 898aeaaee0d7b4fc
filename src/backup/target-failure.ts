/**
 * What an operator reads when restic fails on a target: restic's own words, then what to do where
 * the cause is known (a wrong key, a directory the daemon's user cannot write, a disk not mounted
 * or a server not answering). Pure.
 */

/** The message for restic's failure `resticMessage` on target `name` at `location`, run as `user`. */
export function targetFailureMessage(
  name: string,
  location: string,
  resticMessage: string,
  user: string,
): string {
  return `target ${name}: ${resticMessage}${advice(location, resticMessage, user)}`;
}

function advice(location: string, message: string, user: string): string {
  if (/wrong password|no key found/.test(message))
    return " (the key this node holds for it is not the repository's key)";
  // A directory target is written by the daemon's user (restic runs as it): the fix is theirs to give.
  if (location.startsWith("/") && /permission denied/i.test(message))
    return ` (the daemon's user ${user} cannot write there: give it the directory, as root: mkdir -p ${location} && chown -R ${user}: ${location}; then try again)`;
  if (/config file|no such file|Is there a repository/.test(message))
    return " (is the disk mounted, the server reachable?)";
  return "";
}
