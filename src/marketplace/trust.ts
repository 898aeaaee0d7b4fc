/**
 * Trust in a publisher, computed on the node from the operator's own Nostr identity, with its
 * reasons in words. Pure. Only the operator's network counts: the operator and the people they
 * follow. Everyone else is a stranger whose follows, reports and labels weigh nothing — so keys
 * made by the thousand cannot lift an app, or sink one.
 *
 *   your own key                                  100
 *   followed by you                                80
 *   followed by k people you follow               40 + 10·(k−1), at most 70
 *   nobody in your network follows them            0   ("unknown")
 *   endorsed (NIP-32 label) by n in your network  +10 each, at most +20
 *   rated r/100 by the NIP-85 provider you chose  lifts the score to r/2 at most
 *   reported (NIP-56) by n in your network        −40 each (a report by you: 0)
 *   muted by you                                    0   ("muted")
 */

export type TrustLevel = "yours" | "trusted" | "known" | "unknown" | "reported" | "muted";

export type Trust = { score: number; level: TrustLevel; reasons: string[] };

/** The score at and above which an install needs no confirmation (a setting). */
export const DEFAULT_THRESHOLD = 50;

export type Report = { author: string; reason: string };

/** What the node knows of the operator's network, for the publishers at hand. */
export type TrustNetwork = {
  operator: string | undefined;
  follows: ReadonlySet<string>;
  mutes: ReadonlySet<string>;
  /** For each publisher, how many of the people the operator follows follow them. */
  followedBy: ReadonlyMap<string, number>;
  /** NIP-85 rank (0–100) of each publisher by the provider the operator chose, and its name. */
  assertions: ReadonlyMap<string, number>;
  provider: string | undefined;
};

/** What the network said about one release: its reports and endorsements, by their authors. */
export type Opinions = { reports: readonly Report[]; endorsers: ReadonlySet<string> };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Whether an author's word counts: the operator and the people they follow. */
export function inNetwork(network: Pick<TrustNetwork, "operator" | "follows">, author: string): boolean {
  return author === network.operator || network.follows.has(author);
}

export function trustOf(
  publisher: string,
  network: TrustNetwork,
  opinions: Opinions,
  threshold: number,
): Trust {
  if (network.operator === undefined)
    return {
      score: 0,
      level: "unknown",
      reasons: ["no trust is computed: set your own npub first (archy market identity NPUB)"],
    };
  if (publisher === network.operator) return { score: 100, level: "yours", reasons: ["your own key"] };
  if (network.mutes.has(publisher)) return { score: 0, level: "muted", reasons: ["muted by you"] };
  const reasons: string[] = [];
  let score = 0;
  const followers = network.followedBy.get(publisher) ?? 0;
  if (network.follows.has(publisher)) {
    score = 80;
    reasons.push("followed by you");
  } else if (followers > 0) {
    score = Math.min(70, 40 + 10 * (followers - 1));
    reasons.push(`followed by ${plural(followers, "person", "people")} you follow`);
  } else reasons.push("nobody in your network follows them");
  const endorsers = [...opinions.endorsers].filter((a) => inNetwork(network, a));
  if (endorsers.length > 0) {
    score += Math.min(20, 10 * endorsers.length);
    reasons.push(`endorsed by ${plural(endorsers.length, "person", "people")} in your network`);
  }
  const rank = network.assertions.get(publisher);
  if (rank !== undefined && network.provider) {
    score = Math.max(score, Math.floor(rank / 2));
    reasons.push(`rated ${rank}/100 by ${network.provider}`);
  }
  const reports = opinions.reports.filter((r) => inNetwork(network, r.author));
  const reporters = new Set(reports.map((r) => r.author));
  if (reporters.size > 0) {
    const why = [...new Set(reports.map((r) => r.reason))].sort().join(", ");
    const byYou = reporters.has(network.operator);
    score = byYou ? 0 : Math.max(0, score - 40 * reporters.size);
    reasons.push(
      byYou
        ? `reported by you for ${why}`
        : `reported by ${plural(reporters.size, "person", "people")} in your network for ${why}`,
    );
  }
  score = Math.max(0, Math.min(100, score));
  const level: TrustLevel =
    reporters.size > 0 ? "reported" : score >= threshold ? "trusted" : score > 0 ? "known" : "unknown";
  return { score, level, reasons };
}

/** The risk an install below the threshold runs, named for the operator's confirmation. */
export function riskOf(app: string, publisher: string, trust: Trust, threshold: number): string | undefined {
  if (trust.level === "yours" || (trust.level === "trusted" && trust.score >= threshold)) return undefined;
  const why = trust.reasons.join("; ");
  return `${app} is published by ${publisher}, trust ${trust.score}/100 (${trust.level}: ${why}), below your threshold of ${threshold}: it would run software from a publisher your network does not vouch for`;
}

/**
 * How many of the operator's follows follow each publisher, from their follow lists read one at a
 * time (a list is dropped once counted: memory stays bounded by the publishers at hand).
 */
export function countFollowers(
  lists: Iterable<{ author: string; keys: readonly string[] }>,
  follows: ReadonlySet<string>,
  publishers: ReadonlySet<string>,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const list of lists) {
    if (!follows.has(list.author)) continue;
    for (const key of list.keys) if (publishers.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
