/**
 * tuf-js, loaded on first use: a node needs it once it refreshes a catalog or serves a saved one,
 * and a node without catalog sources never does (test/daemon/idle-modules.test.ts). It is CommonJS:
 * its exports are the dynamic import's `default`, from the sources and in the build alike.
 */
import type { Updater } from "tuf-js";
import type { DownloadHTTPError } from "tuf-js/dist/error.js";
import type { TrustedMetadataStore } from "tuf-js/dist/store.js";

export type TufJs = {
  Updater: typeof Updater;
  TrustedMetadataStore: typeof TrustedMetadataStore;
  DownloadHTTPError: typeof DownloadHTTPError;
};

let loading: Promise<TufJs> | undefined;

export function tufJs(): Promise<TufJs> {
  loading ??= Promise.all([
    import("tuf-js"),
    import("tuf-js/dist/store.js"),
    import("tuf-js/dist/error.js"),
  ]).then(([client, store, errors]) => ({
    Updater: client.default.Updater,
    TrustedMetadataStore: store.default.TrustedMetadataStore,
    DownloadHTTPError: errors.default.DownloadHTTPError,
  }));
  return loading;
}
