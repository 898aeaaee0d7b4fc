/**
 * Why a refresh failed, in the operator's words: which attack TUF refused (or what else went
 * wrong), the detail the client gave, and what to do. Pure. The TUF client wraps the errors of some
 * steps into generic ones that keep only the message, so the kind is read from the message; the
 * stage (metadata or the app files) tells a tampered file from mixed-up metadata.
 */

export type FailureKind =
  | "rollback"
  | "freeze"
  | "mix-and-match"
  | "below-threshold"
  | "endless-data"
  | "tampered"
  | "namespace"
  | "unreachable"
  | "invalid";

export type RefreshFailure = { kind: FailureKind; message: string; fix: string };

/** A delegated role signed an app outside the namespace it was given. */
export class NamespaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NamespaceError";
  }
}

/** A target whose bytes do not match its signed length and hashes (SHA-256 by TUF, then BLAKE3). */
export class TamperedTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TamperedTargetError";
  }
}

type Rule = { kind: FailureKind; test: RegExp; stage?: "metadata" | "targets"; what: string; fix: string };

const REPUBLISH =
  "the publisher must sign and publish the catalog again (archy catalog sign, archy catalog publish)";

const TAMPERED = {
  what: "an app file does not match its signed length and hashes (tampered with, or damaged)",
  fix: "the server or a mirror changed a published file: publish again from the catalog directory (archy catalog publish)",
};

const RULES: Rule[] = [
  {
    kind: "endless-data",
    test: /sent more than \d+ bytes|Max length reached/,
    what: "a file was larger than the catalog allows (endless-data attack, or a broken server)",
    fix: "check the catalog URL and the server (or mirror) behind it; the node keeps its last good catalog meanwhile",
  },
  {
    kind: "freeze",
    test: /is expired/,
    what: "the catalog's metadata has expired (freeze attack: old files replayed, or the publisher stopped re-signing)",
    fix: `${REPUBLISH}: a fresh timestamp at least (archy catalog sign --role timestamp)`,
  },
  {
    kind: "below-threshold",
    test: /was signed by \d+\/\d+ keys/,
    what: "metadata is not signed by enough trusted keys (signatures below the threshold, or signed by unknown keys)",
    fix: `${REPUBLISH} with a threshold of the keys this node trusts; if the publisher rotated its keys, it must publish the root rotation too`,
  },
  {
    kind: "rollback",
    test: /is less than current version|Expected version \d+, got \d+/,
    what: "the catalog offered older metadata than this node already trusts (rollback attack, or an old copy restored on the server)",
    fix: "the server or mirror must serve the current catalog; a publisher restoring a backup must publish newer versions on top of it",
  },
  {
    kind: "mix-and-match",
    test: /does not match snapshot version|doesn't match timestamp|Missing \S+ in (new )?snapshot|Expected (length|hash)/,
    stage: "metadata",
    what: "metadata files do not belong together: a file does not match what the snapshot or timestamp says about it (mix-and-match attack, or a publish copied half-way)",
    fix: "publish the catalog again with archy catalog publish (it replaces files atomically); check any mirror or sync between the publisher and the server",
  },
  { kind: "tampered", test: /Expected (length|hash)/, stage: "targets", ...TAMPERED },
];

export function explainFailure(error: unknown, stage: "metadata" | "targets"): RefreshFailure {
  // The TUF client wraps some errors as "Unable to load snapshot metadata error Error: …".
  const detail = (error instanceof Error ? error.message : String(error)).replace(
    /Unable to load \w+( metadata)? error (\w*Error: )?/,
    "",
  );
  if (error instanceof NamespaceError)
    return {
      kind: "namespace",
      message: `a delegated key signed outside its namespace: ${detail}`,
      fix: "the catalog publisher must re-sign the namespace's metadata with only its own apps; until then the node keeps its last good catalog",
    };
  if (error instanceof TamperedTargetError)
    return { kind: "tampered", message: `${TAMPERED.what}: ${detail}`, fix: TAMPERED.fix };
  for (const rule of RULES)
    if ((rule.stage === undefined || rule.stage === stage) && rule.test.test(detail))
      return { kind: rule.kind, message: `${rule.what}: ${detail}`, fix: rule.fix };
  if (
    /HTTP \d+|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|fetch failed|no complete answer|no such file|ENOENT/.test(
      detail,
    )
  )
    return {
      kind: "unreachable",
      message: `the catalog could not be downloaded: ${detail}`,
      fix: "check the source's URL and that its server is up; the node keeps its last good catalog and tries again",
    };
  return {
    kind: "invalid",
    message: `the catalog could not be read: ${detail}`,
    fix: "check the source's URL and pinned root (a root of another catalog cannot verify this one); tell the catalog publisher",
  };
}

/**
 * The node's own copy of the last good catalog does not verify against the signed metadata saved
 * with it: it is not served, and the catalog is downloaded again.
 */
export function savedCatalogFailure(file: string, problem: string): RefreshFailure {
  return {
    kind: "tampered",
    message: `the node's saved catalog ${file} does not match the signed metadata it was saved with (changed on disk, or damaged): ${problem}`,
    fix: "nothing to do if the next refresh succeeds: the node does not serve that copy and downloads the catalog again; if this comes back, find what else writes to the node's data directory",
  };
}
