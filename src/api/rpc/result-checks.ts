/**
 * Whether the daemon checks every result against its method's schema before it leaves (dispatch.ts).
 * The handlers are typed by the same schemas (rpc/dispatch.ts, Handlers), so the check can only find
 * what the type system let through (a cast, a value read from the store as the wrong shape); it
 * costs a third of a `package.list`'s time. The one switch: `ARCHY_CHECK_RESULTS=1` checks, `=0`
 * does not; unset, the daemon checks when it runs from its TypeScript sources (tests, development:
 * a mismatch is a bug to see there) and not from the build in dist/ (what `bin/archy` runs).
 */
export function resultChecks(
  setting: string | undefined = process.env.ARCHY_CHECK_RESULTS,
  moduleUrl: string = import.meta.url,
): boolean {
  if (setting === "1") return true;
  if (setting === "0") return false;
  return moduleUrl.endsWith(".ts");
}
