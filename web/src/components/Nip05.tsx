/**
 * A marketplace publisher's NIP-05 handle (`name@domain`). On a card only once this node verified it
 * (the domain names the publisher's key): an unverified handle is a claim anyone can make, and shown
 * beside an app it would lend the app a name it has not earned. The install dialog shows it either
 * way, with the node's reason.
 */
import type { Result } from "../api.ts";

type Nip05 = NonNullable<Result<"package.available">[number]["nip05"]>;

/** `handle ✓` for a verified handle; nothing otherwise. */
export function VerifiedHandle({ nip05 }: { nip05: Nip05 | null }) {
  if (!nip05?.verified) return null;
  return (
    <span className="chip chip-good" data-testid="nip05" title={nip05.reason}>
      {nip05.handle}
      <span aria-hidden="true"> ✓</span>
      <span className="visually-hidden"> (verified NIP-05 address)</span>
    </span>
  );
}

/** The handle, whether it is verified, and why: what the operator reads before installing. */
export function Nip05Detail({ nip05 }: { nip05: Nip05 | null }) {
  if (!nip05) return null;
  return (
    <p className="small" data-testid="nip05-detail">
      NIP-05 address <code>{nip05.handle}</code>:{" "}
      {nip05.verified ? "verified" : <strong>not verified</strong>} ({nip05.reason})
    </p>
  );
}
