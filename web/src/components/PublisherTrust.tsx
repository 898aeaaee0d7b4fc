/** A marketplace publisher's trust as the node computed it, on the App Store's cards and installs. */
import type { Result } from "../api.ts";
import { trustTone } from "../format.ts";

type Trust = NonNullable<Result<"package.available">[number]["trust"]>;

/** A marketplace publisher's trust: its score and level, and why (the node's own reasons). */
export function PublisherTrust({ trust }: { trust: Trust }) {
  return (
    <>
      <span className={`chip chip-${trustTone(trust.level)}`} data-testid="trust">
        Trust {trust.score}/100 · {trust.level}
      </span>
      {trust.reasons.length > 0 && (
        <p className="muted small block" data-testid="trust-reasons">
          {trust.reasons.join("; ")}
        </p>
      )}
    </>
  );
}
