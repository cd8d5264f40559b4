/**
 * Durable stream writes whose bodies are read from `node:http` as it holds them (src/node/incoming-body.ts),
 * on a real `@hono/node-server`: a body in the request's first packet is taken at hand; one that is
 * still arriving, or chunked, goes the standard way; every byte arrives whichever way was taken.
 */
import { type AddressInfo, connect } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryLog } from "../../src/hub/memory/memory-log.ts";
import { incomingBody } from "../../src/node/index.ts";
import { durableStreams } from "../../src/streams/index.ts";

describe("incomingBody", () => {
  // What incomingBody answered per request: a body, or undefined for the standard path.
  const answers: ("at hand" | "standard")[] = [];
  const app = new Hono();
  app.route(
    "/v1/stream",
    durableStreams({
      log: new MemoryLog(),
      requestBody: async (c) => {
        const body = await incomingBody(c);
        answers.push(body === undefined ? "standard" : "at hand");
        return body;
      },
    }),
  );
  let server: ReturnType<typeof serve>;
  let port = 0;
  beforeAll(async () => {
    server = serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    await new Promise((resolve) => server.once("listening", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const url = (name: string) => `http://127.0.0.1:${port}/v1/stream/${name}`;
  const read = async (name: string) => (await fetch(`${url(name)}?offset=-1`)).text();

  /** Writes `parts` to one raw connection, `pauseMs` apart, and resolves with the status line. */
  function raw(parts: string[], pauseMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let answer = "";
      socket.on("data", (chunk) => {
        answer += chunk.toString("latin1");
        if (answer.includes("\r\n\r\n")) {
          socket.destroy();
          resolve(answer.split("\r\n")[0] as string);
        }
      });
      socket.on("error", reject);
      socket.once("connect", async () => {
        for (const [index, part] of parts.entries()) {
          if (index > 0) await new Promise((resume) => setTimeout(resume, pauseMs));
          socket.write(part);
        }
      });
    });
  }

  it("takes a body that came with its headers, and stores every byte", async () => {
    await fetch(url("whole"), { method: "PUT", headers: { "content-type": "application/json" } });
    answers.length = 0;
    const body = JSON.stringify({ text: "é".repeat(100) });
    const head = `POST /v1/stream/whole HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    // One write: headers and body in one packet, as a client's small POST usually is.
    expect(await raw([head + body], 0)).toBe("HTTP/1.1 204 No Content");
    expect(answers).toEqual(["at hand"]);
    expect(JSON.parse(await read("whole"))).toEqual([{ text: "é".repeat(100) }]);
  });

  it("leaves a body still arriving to the standard path, which waits for all of it", async () => {
    await fetch(url("late"), { method: "PUT", headers: { "content-type": "application/json" } });
    answers.length = 0;
    const body = JSON.stringify({ text: "late" });
    const head = `POST /v1/stream/late HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    expect(await raw([head + body.slice(0, 5), body.slice(5)], 50)).toBe("HTTP/1.1 204 No Content");
    expect(answers).toEqual(["standard"]);
    expect(JSON.parse(await read("late"))).toEqual([{ text: "late" }]);
  });

  it("is not asked for a chunked body (no Content-Length)", async () => {
    await fetch(url("chunked"), { method: "PUT", headers: { "content-type": "text/plain" } });
    answers.length = 0;
    const head =
      "POST /v1/stream/chunked HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
    expect(await raw([`${head}3\r\nabc\r\n`, "2\r\nde\r\n0\r\n\r\n"], 20)).toBe("HTTP/1.1 204 No Content");
    expect(answers).toEqual([]);
    expect(await read("chunked")).toBe("abcde");
  });

  it("gives nothing where the request is not node:http's (app.request)", async () => {
    await app.request("/v1/stream/in-process", { method: "PUT", headers: { "content-type": "text/plain" } });
    answers.length = 0;
    const response = await app.request("/v1/stream/in-process", {
      method: "POST",
      headers: { "content-type": "text/plain", "content-length": "2" },
      body: "hi",
    });
    expect(response.status).toBe(204);
    expect(answers).toEqual(["standard"]);
  });
});
