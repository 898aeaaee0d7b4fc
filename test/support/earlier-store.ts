/**
 * A store database as an earlier release left it: the current schema with the later migrations
 * undone, for tests of what an upgrade does with it. One undo step per migration since the naming
 * scheme (store.ts's MIGRATIONS, by the version they lead to); a new migration whose upgrade a test
 * exercises adds its step here.
 */
import { DatabaseSync } from "node:sqlite";

const UNDO: Record<number, string> = {
  12: "DROP TABLE peers; DROP TABLE peer_grants;",
  11: "DROP TABLE env_files;",
  10: "ALTER TABLE containers DROP COLUMN restarts;",
  9: "DROP TABLE market_relays; DROP TABLE market_settings; DROP TABLE market_events;",
  8: "ALTER TABLE apps DROP COLUMN publisher; ALTER TABLE updates DROP COLUMN from_publisher;",
  7: "DROP TABLE approvals; DROP TABLE upgrade_notes;",
  6: "ALTER TABLE apps DROP COLUMN naming;",
};

/** Takes the (closed) store at `path` back to schema `version`, keeping its rows. */
export function rewindStore(path: string, version: number): void {
  const raw = new DatabaseSync(path);
  try {
    const { version: current } = raw.prepare("SELECT version FROM schema_version").get() as {
      version: number;
    };
    for (let step = current; step > version; step--) {
      const undo = UNDO[step];
      if (undo === undefined) throw new Error(`rewindStore: no undo step for migration ${step}`);
      raw.exec(undo);
    }
    raw.prepare("UPDATE schema_version SET version = ?").run(version);
  } finally {
    raw.close();
  }
}
