/**
 * A stand-in peer node for image-sharing tests and the peer benchmark: the real serving code
 * (src/peers/serve.ts) on a loopback port of its own, over a copy of a node's peer cache and a real
 * store holding one grant. Plain HTTP on loopback: the node under test reaches it as `http://`.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { Store } from "../../src/orchestrator/store.ts";
import { ImageCache } from "../../src/peers/image-cache.ts";
import { newPeerToken, peerTokenDigest } from "../../src/peers/peers.ts";
import { registerPeerRoutes } from "../../src/peers/serve.ts";

export type ImagePeer = {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  /** The token it granted the node under test. */
  token: string;
  /** Its cache (an OCI layout): tamper with it here. */
  dir: string;
  /** The lines it logged, one per manifest or blob served. */
  served: string[];
  close(): Promise<void>;
};

/** A peer serving a copy of the cache `cacheDir`. */
export async function startImagePeer(cacheDir: string): Promise<ImagePeer> {
  const scratch = mkdtempSync(join(tmpdir(), "archy-image-peer-"));
  const dir = join(scratch, "peer-images");
  cpSync(cacheDir, dir, { recursive: true });
  const store = new Store(join(scratch, "store.db"));
  const token = newPeerToken();
  store.addPeerGrant("node-under-test", peerTokenDigest(token), Date.now());
  const served: string[] = [];
  const server = Fastify();
  registerPeerRoutes(server, {
    store,
    bundleFile: () => join(scratch, "no-bundles"),
    images: new ImageCache(dir, Number.MAX_SAFE_INTEGER),
    log: { info: (m) => served.push(m), warn: () => {} },
  });
  const url = await server.listen({ host: "127.0.0.1", port: 0 });
  return {
    url: `${url}/`,
    token,
    dir,
    served,
    async close() {
      await server.close();
      store.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
