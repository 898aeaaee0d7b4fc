/** An app's phase, in the daemon's word, coloured by what it means. */
import { type Phase, phaseTone } from "../format.ts";

export function PhaseBadge({ phase }: { phase: Phase }) {
  const tone = phaseTone(phase);
  return (
    <span className={`badge badge-${tone}`} data-phase={phase}>
      <span className={`dot${tone === "busy" ? " dot-pulse" : ""}`} aria-hidden="true" />
      {phase}
    </span>
  );
}
