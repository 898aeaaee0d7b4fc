/** A TCP connect from this host, bounded in time: whether something accepts connections there. */
import { connect } from "node:net";

export type ConnectResult = { ok: boolean; observed: string };

export function tcpConnect(address: string, port: number, timeoutMs: number): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (result: ConnectResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, observed: `no connection within ${timeoutMs} ms` }));
    socket.once("connect", () => done({ ok: true, observed: "connected" }));
    socket.once("error", (error) => done({ ok: false, observed: error.message }));
  });
}
