/**
 * What every API handler works with: the orchestrator, auth, the sources, and the caller as the
 * transport saw it. Its own module, so that the handler modules (methods.ts, auth-methods.ts,
 * catalog-methods.ts, market-methods.ts) share it without importing one another.
 */
import type { Backups } from "../backup/service.ts";
import type { Catalogs } from "../catalog/node/catalogs.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { Marketplace } from "../marketplace/market.ts";
import type { Orchestrator } from "../orchestrator/orchestrator.ts";
import type { SourceListing } from "../sources/local.ts";
import type { Auth, Session } from "./auth.ts";
import type { Contract, MethodName } from "./contract.ts";
import type { ApiEvent } from "./events.ts";
import type { Handlers } from "./rpc/dispatch.ts";

export type ApiContext = {
  orchestrator: Orchestrator;
  auth: Auth;
  /**
   * The catalogs' and the local apps directory's apps. A listing may hold the directory as it was a
   * few seconds ago; with `currentFor`, that app is as its manifest is now (what installs and updates
   * act on: a manifest dropped in or edited a moment ago counts).
   */
  sources: (options?: { currentFor?: string }) => Promise<SourceListing>;
  /** The signed catalog sources (their apps are in `sources` too). */
  catalogs: Catalogs;
  /** The Nostr marketplace (its apps are offered beside the sources', never merged into them). */
  market: Marketplace;
  /** Backups and restores (src/backup/). */
  backups: Backups;
  version: string;
  /** Why new containers are created with the backend they are (the daemon's choice at start). */
  backendReason: string;
  startedAt: number;
  /** The data directory (settings show it). */
  dataDir: string;
  /** Podman's version, once connected. */
  podmanVersion: () => string | undefined;
  clock: () => number;
  /** Pushes an event to the live event stream's subscribers. */
  publish: (event: ApiEvent) => void;
  /** Where a browser opens an app's interface through the node (proxy/app-access.ts), or null when it cannot. */
  interfaceUrl: (appId: string, manifest: Manifest, name: string) => string | null;
  /** The caller, as the transport saw it. */
  call: {
    client: string;
    sessionToken: string | undefined;
    /** The device cookie the request carried (auth's login budgets, device-cookie.ts). */
    deviceCookie: string | undefined;
    /** Authenticated with the CLI token. */
    cliToken: boolean;
    setSession: (session: Session | undefined) => void;
  };
};

/** The handlers of some of the contract's methods (each module answers its own). */
export type ApiHandlers<M extends MethodName> = Pick<Handlers<Contract, ApiContext>, M>;
