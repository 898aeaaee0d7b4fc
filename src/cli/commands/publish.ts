/** `archy app publish DIR`: signs and publishes an app release to Nostr relays (docs/marketplace.md). */
import { MarketError } from "../../marketplace/identity.ts";
import { defaultKeyFile, readDevKey } from "../../marketplace/key-file.ts";
import { publishApp } from "../../marketplace/publish.ts";
import { parseCommandLine, UsageError } from "../args.ts";
import { printJson } from "../operator.ts";

const USAGE = `Usage: archy app publish DIR --relay URL... (--bundle-url URL... | --bundle-dir DIR --public-url URL)
                         [--key FILE] [--notes TEXT] [--allow-unpinned] [--json]

Validates the app in DIR (as archy app validate does), packs its manifest and files in a bundle,
puts the bundle on its mirrors — an HTTP PUT target (--bundle-url; a URL ending in / gets the
bundle's file name), or a directory a web server serves (--bundle-dir, served at --public-url) —
reads it back from each, then signs its app, release and asset events with your key (archy dev
keygen) and sends them to every relay. A version not newer than the last one your key published
there is refused. Nothing is sent to a relay unless every mirror serves the signed bundle.

  --relay URL         a relay (ws:// or wss://), repeatable
  --bundle-url URL    an HTTP PUT target for the bundle, repeatable
  --bundle-dir DIR    a directory for the bundle, with --public-url (where it is served)
  --key FILE          your key file (default ~/.config/archipelago/nostr-key.json or ARCHY_DEV_KEY)
  --notes TEXT        release notes
  --allow-unpinned    let images by tag through (development only): every image from a registry
                      must otherwise be pinned by digest (NAME:TAG@sha256:…)
  --json              print the report as JSON

Exit codes: 0 published to every relay, 1 refused or failed (message printed), 2 bad usage.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      relay: { type: "string", multiple: true },
      "bundle-url": { type: "string", multiple: true },
      "bundle-dir": { type: "string" },
      "public-url": { type: "string" },
      key: { type: "string" },
      notes: { type: "string" },
      "allow-unpinned": { type: "boolean" },
      json: { type: "boolean" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give one app directory\n\n${USAGE}`);
  try {
    const key = await readDevKey(values.key ?? defaultKeyFile());
    const report = await publishApp(key, {
      dir: positionals[0] as string,
      relays: values.relay ?? [],
      putUrls: values["bundle-url"] ?? [],
      bundleDir: values["bundle-dir"],
      publicUrl: values["public-url"],
      notes: values.notes ?? "",
      now: Date.now(),
      allowUnpinned: values["allow-unpinned"] === true,
    });
    if (values.json) printJson(report);
    else {
      console.log(`${report.id} ${report.version} by ${report.npub}`);
      console.log(
        `bundle: ${report.bundle.size} bytes, sha256 ${report.bundle.sha256}, blake3 ${report.bundle.blake3}`,
      );
      for (const url of report.bundle.urls) console.log(`  mirror ${url}`);
      for (const relay of report.relays)
        console.log(`relay ${relay.url}: ${relay.ok ? "published" : `refused: ${relay.message}`}`);
    }
    return report.relays.every((r) => r.ok) ? 0 : 1;
  } catch (error) {
    if (error instanceof MarketError) {
      console.error(`archy: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
