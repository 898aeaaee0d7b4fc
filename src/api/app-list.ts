/**
 * The installed apps' list, kept in memory and told in changes: `package.list` answers from views
 * kept between calls while nothing they derive from moved; `package.changes` answers only the apps
 * that changed since a revision the caller holds; the event stream carries each changed view
 * (`app-view`) and the apps observed again (`apps-observed`), so a client needs no polling.
 *
 * What counts as a change: anything an app's view shows except when it was observed. A pass of the
 * reconciler confirms every app's observation (its time moves for all of them, every pass): those
 * times travel apart, as ages (`observedAgeMs` in `package.changes`, the `apps-observed` event),
 * so that a change stays a change and not every app every pass.
 */
import { createHash, randomBytes } from "node:crypto";
import type { AppRow } from "../orchestrator/store.ts";
import { type AppViewResult, appView } from "./app-views.ts";
import type { ApiContext } from "./context.ts";
import type { HandlerResult } from "./contract.ts";
import type { ApiEvent } from "./events.ts";
import { SerializedResult } from "./rpc/dispatch.ts";

/** How many revisions a `since` can name: older ones get the whole list (marked `full`). */
export const REVISIONS_KEPT = 64;

/**
 * `package.list`'s views, kept between calls while nothing they derive from moved: the store (its
 * revision: any write, any observation time confirmed; the marketplace's events and settings are
 * in it too), the catalogs' listings (which apps they offer) and what the runtime found of the
 * host once Podman answered (memory limits). App links are the node's own
 * (app-access.ts), the same for every caller. Without it a list read every app's row, containers
 * and approvals again, three queries an app, for every caller under load.
 */
type ListView = {
  /** Which views these are, in this daemon's life: part of their ETag. */
  generation: number;
  revision: number;
  listings: unknown[];
  /** What the runtime found of the host (memory limits), known once Podman answered. */
  memoryLimits: unknown;
  /** The rows the views were made from (the alerts are derived from them at every call). */
  rows: AppRow[];
  apps: AppViewResult[];
  /** Each app's view without its observation times and alerts, hashed: what a change is. */
  marks: string[];
  /**
   * Each app's view as JSON up to its observation's age, which (with its alerts) is written at each
   * call: made at the first `package.list` of these views.
   */
  heads?: Buffer[];
};

/** The list's revisions for `since`, and what the event stream last said of each app. */
type Changes = {
  /** This store's life in this daemon: a revision of another one (a restart) is not comparable. */
  epoch: string;
  /** The last revisions, oldest first: number -> each app's mark then. */
  revisions: Array<{ n: number; marks: Map<string, string> }>;
  /** What the stream last told: each app's mark and observation time (undefined: nothing yet). */
  told?: { marks: Map<string, string>; observedAt: Map<string, number | null> };
};

const listViews = new WeakMap<object, ListView>();
const changesOf = new WeakMap<object, Changes>();
let listGenerations = 0;

/** An app's view as a change is judged: without when it was observed (nor its alerts: told apart). */
function markOf(app: AppViewResult): string {
  const { observedAt: _at, observedAgeMs: _age, alerts: _alerts, containers, ...rest } = app;
  const shown = { ...rest, containers: containers.map(({ observedAt: _seen, ...c }) => c) };
  return createHash("sha256").update(JSON.stringify(shown)).digest("base64url").slice(0, 22);
}

/** The current views, and their version (the list's ETag). */
function listView(ctx: ApiContext): ListView & { version: string } {
  const view = currentViews(ctx);
  // A restarted daemon starts counting again: its start time keeps an old tag from matching.
  const version = createHash("sha256")
    .update(`${ctx.startedAt}\0${view.generation}`)
    .digest("base64url")
    .slice(0, 22);
  return { ...view, version };
}

/** The views kept for the store as it is now: the ones of the last call, or new ones. */
function currentViews(ctx: ApiContext): ListView {
  const { store } = ctx.orchestrator;
  const listings = ctx.catalogs.sources.map((s) => s.listing);
  const memoryLimits = ctx.orchestrator.started ? ctx.orchestrator.runtime.memoryLimits : undefined;
  let view = listViews.get(store);
  if (
    !view ||
    view.revision !== store.revision ||
    view.memoryLimits !== memoryLimits ||
    view.listings.length !== listings.length ||
    view.listings.some((listing, i) => listing !== listings[i])
  ) {
    const rows = store.listApps();
    const apps = rows.map((row) => appView(ctx, row));
    // Building reads the store (its manifest cache may write a parsed form): keyed after that.
    view = {
      generation: ++listGenerations,
      revision: store.revision,
      listings,
      memoryLimits,
      rows,
      apps,
      marks: apps.map(markOf),
    };
    listViews.set(store, view);
  }
  return view;
}

type Listed = { apps: AppViewResult[]; marks: Map<string, string>; version: string; rows: AppRow[] };

/**
 * The listed apps now: their observation's age and their alerts as of now (an overdue backup is an
 * alert because time passed, not because anything was written), and each one's mark.
 */
function listNow(ctx: ApiContext): Listed {
  const now = ctx.clock();
  const view = listView(ctx);
  const alerts = ctx.backups.alerts(view.rows, now);
  const marks = new Map<string, string>();
  const apps = view.apps.map((app, i) => {
    const current = nowOf(app, alerts, now);
    const own = current.alerts;
    marks.set(app.id, own.length === 0 ? (view.marks[i] ?? "") : `${view.marks[i]}.${JSON.stringify(own)}`);
    return { ...app, ...current };
  });
  return { apps, marks, version: view.version, rows: view.rows };
}

type Alerts = ReturnType<ApiContext["backups"]["alerts"]>;

/** What of an app's view is as of now, not of the store: its observation's age and its alerts. */
function nowOf(app: AppViewResult, alerts: Alerts, now: number) {
  return {
    observedAgeMs: app.observedAt === null ? null : Math.max(0, now - app.observedAt),
    alerts: alerts.filter((alert) => alert.appId === app.id),
  };
}

/**
 * `package.list`: every installed app, as JSON. Serialising ~100 KB of views was half of a list
 * call's time under load (with its UTF-8 encoding): each view is kept as bytes up to its
 * observation's age, and only the ages and alerts are written at each call. The keys of a view
 * come in another order than in `package.changes` (the age and the alerts last): JSON's objects
 * have none.
 */
export function listedApps(ctx: ApiContext): SerializedResult<AppViewResult[]> {
  const now = ctx.clock();
  const view = currentViews(ctx);
  view.heads ??= view.apps.map((app) => {
    const { observedAgeMs: _age, alerts: _alerts, ...rest } = app;
    const text = JSON.stringify(rest);
    return Buffer.from(`${text.slice(0, -1)}${text === "{}" ? "" : ","}"observedAgeMs":`);
  });
  const heads = view.heads;
  const alerts = ctx.backups.alerts(view.rows, now);
  const parts: Buffer[] = [];
  view.apps.forEach((app, i) => {
    const current = nowOf(app, alerts, now);
    parts.push(
      heads[i] as Buffer,
      Buffer.from(
        `${current.observedAgeMs},"alerts":${JSON.stringify(current.alerts)}}${i < view.apps.length - 1 ? "," : ""}`,
      ),
    );
  });
  return new SerializedResult(Buffer.concat([OPEN_LIST, ...parts, CLOSE_LIST]));
}

const OPEN_LIST = Buffer.from("[");
const CLOSE_LIST = Buffer.from("]");

/** The list's ETag: its views' version and the alerts now (they change without a store write). */
export function listVersion(ctx: ApiContext): string {
  const { rows, version } = listView(ctx);
  const alerts = ctx.backups
    .alerts(rows)
    .map((a) => `${a.kind}\0${a.target}\0${a.appId}\0${a.since}`)
    .join("\n");
  return alerts
    ? `${version}.${createHash("sha256").update(alerts).digest("base64url").slice(0, 11)}`
    : version;
}

const sameMarks = (a: Map<string, string>, b: Map<string, string>) =>
  a.size === b.size && [...a].every(([id, mark]) => b.get(id) === mark);

function changesFor(ctx: ApiContext): Changes {
  const { store } = ctx.orchestrator;
  let changes = changesOf.get(store);
  if (!changes) {
    changes = { epoch: randomBytes(6).toString("base64url"), revisions: [] };
    changesOf.set(store, changes);
  }
  return changes;
}

/** The revision the marks are at: the last one when nothing changed, else a new one. */
function revisionOf(changes: Changes, marks: Map<string, string>): number {
  const last = changes.revisions.at(-1);
  if (last && sameMarks(last.marks, marks)) return last.n;
  const n = (last?.n ?? 0) + 1;
  changes.revisions.push({ n, marks });
  if (changes.revisions.length > REVISIONS_KEPT) changes.revisions.shift();
  return n;
}

/** The revision a caller sent, when it is one of this store's in this daemon's life and still kept. */
function keptRevision(changes: Changes, since: string | undefined): Map<string, string> | undefined {
  if (since === undefined) return undefined;
  const dot = since.lastIndexOf(".");
  if (since.slice(0, dot) !== changes.epoch) return undefined;
  const n = Number(since.slice(dot + 1));
  return changes.revisions.find((r) => r.n === n)?.marks;
}

/**
 * `package.changes`: the apps changed since the revision `since` names and the ids removed since, or
 * every app (`full`) when there is no `since`, or it is too old or of another daemon run (never a
 * partial answer that could be wrong).
 */
export function listChanges(ctx: ApiContext, since: string | undefined): HandlerResult<"package.changes"> {
  const changes = changesFor(ctx);
  const { apps, marks } = listNow(ctx);
  const then = keptRevision(changes, since);
  const revision = `${changes.epoch}.${revisionOf(changes, marks)}`;
  const observedAgeMs = Object.fromEntries(apps.map((app) => [app.id, app.observedAgeMs]));
  if (!then) return { revision, full: true, apps, removed: [], observedAgeMs };
  return {
    revision,
    full: false,
    apps: apps.filter((app) => then.get(app.id) !== marks.get(app.id)),
    removed: [...then.keys()].filter((id) => !marks.has(id)),
    observedAgeMs,
  };
}

/**
 * What the event stream has not told yet: each app whose view changed (`app-view`), and the apps
 * only observed again (one `apps-observed`). Removals are the orchestrator's own `app-removed`. The
 * first call takes the state as told (the stream's clients read the list when they connect).
 */
export function untoldChanges(ctx: ApiContext): ApiEvent[] {
  const changes = changesFor(ctx);
  const { apps, marks } = listNow(ctx);
  const observedAt = new Map(apps.map((app) => [app.id, app.observedAt]));
  const told = changes.told;
  changes.told = { marks, observedAt };
  if (!told) return [];
  const events: ApiEvent[] = [];
  const observed: Record<string, number | null> = {};
  for (const app of apps) {
    if (told.marks.get(app.id) !== marks.get(app.id)) events.push({ type: "app-view", appId: app.id, app });
    else if (told.observedAt.get(app.id) !== app.observedAt) observed[app.id] = app.observedAgeMs;
  }
  if (Object.keys(observed).length > 0) events.push({ type: "apps-observed", observedAgeMs: observed });
  return events;
}
