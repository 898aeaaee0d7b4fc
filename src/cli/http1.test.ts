import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { NotHttp, parseAnswer, postJson, RequestTimeout } from "./http1.ts";

describe("the CLI's HTTP/1.1 POST", () => {
  let server: Server;
  let origin: string;
  const seen: Array<{ headers: Record<string, unknown>; body: string }> = [];
  before(async () => {
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk;
      });
      request.on("end", () => {
        seen.push({ headers: request.headers, body });
        if (request.url === "/chunked") {
          // No Content-Length: Node sends the body in chunks.
          response.write('{"result":');
          response.write(`"${"é".repeat(3000)}"`);
          response.end("}");
        } else if (request.url === "/slow") setTimeout(() => response.end("{}"), 5_000).unref();
        else {
          response.writeHead(201, { "content-type": "application/json" });
          response.end(JSON.stringify({ echo: body }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    origin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test("sends the body with its headers and reads a Content-Length answer", async () => {
    const answer = await postJson(
      new URL(`${origin}/rpc/v1`),
      '{"a":"ü"}',
      { authorization: "Bearer t" },
      5_000,
    );
    assert.equal(answer.status, 201);
    assert.deepEqual(JSON.parse(answer.text), { echo: '{"a":"ü"}' });
    const last = seen.at(-1);
    assert.equal(last?.headers.authorization, "Bearer t");
    assert.equal(last?.headers["content-type"], "application/json");
  });

  test("reads a chunked answer, multi-byte characters across chunks included", async () => {
    const answer = await postJson(new URL(`${origin}/chunked`), "{}", {}, 5_000);
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.text) as { result: string }).result, "é".repeat(3000));
  });

  test("a server that does not answer in time is a RequestTimeout", async () => {
    await assert.rejects(postJson(new URL(`${origin}/slow`), "{}", {}, 200), RequestTimeout);
  });

  test("a refused connection is the socket's error (its message names it)", async () => {
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const address = probe.address();
    const port = typeof address === "object" && address ? address.port : 0;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(
      postJson(new URL(`http://127.0.0.1:${port}/rpc/v1`), "{}", {}, 2_000),
      /ECONNREFUSED/,
    );
  });

  test("something that is not HTTP is told apart", () => {
    assert.throws(() => parseAnswer(Buffer.from("SSH-2.0-OpenSSH_9.2\r\n")), NotHttp);
    assert.deepEqual(parseAnswer(Buffer.from("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")), {
      status: 204,
      text: "",
    });
  });
});
