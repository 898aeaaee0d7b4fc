/**
 * The CLI's streamed exchanges with the daemon (image archives, hundreds of MiB: JSON-RPC carries
 * 1 MiB at most): a body sent from a stream, an answer written to a stream when the daemon says
 * 200, read as text (its JSON refusal) otherwise. No time limit: an export copies every image from
 * its registry before its first byte. Through `node:http(s)`, which the CLI's bundle loads only
 * when these commands use them (scripts/build.ts).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError, DaemonUnreachable } from "./client.ts";

export type TransferAnswer = { status: number; text: string };

export function transfer(
  url: URL,
  options: {
    method: "GET" | "POST";
    token: string;
    body?: { stream: Readable; type: string };
    out?: Writable;
  },
): Promise<TransferAnswer> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method,
        headers: {
          authorization: `Bearer ${options.token}`,
          ...(options.body ? { "content-type": options.body.type } : {}),
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status === 200 && options.out) {
          // A connection the daemon cuts mid-archive is a failure, never a short archive taken as whole.
          pipeline(response, options.out, { end: false }).then(
            () =>
              response.complete
                ? resolve({ status, text: "" })
                : reject(
                    new CliError(
                      "the daemon stopped in the middle of the archive: it is incomplete, do not use it",
                    ),
                  ),
            (error: Error) => reject(new CliError(`the archive could not be written: ${error.message}`)),
          );
          return;
        }
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status, text: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    req.on("error", (error: NodeJS.ErrnoException) =>
      reject(
        ["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH"].includes(error.code ?? "")
          ? new DaemonUnreachable(
              `the daemon at ${url.origin} is not reachable (${error.code})`,
              "start it: archy daemon",
            )
          : error,
      ),
    );
    if (options.body) pipeline(options.body.stream, req).catch(reject);
    else req.end();
  });
}
