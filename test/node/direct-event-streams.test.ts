/**
 * The Node fast path (src/node/direct-event-streams.ts) on a real `@hono/node-server`: an event
 * stream is taken over and written straight to the ServerResponse; any other answer is left to
 * @hono/node-server, untouched (its light response kept, so it is sent by its quick path).
 */
import { Agent, request as httpRequest } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { serve } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directEventStreams } from "../../src/node/index.ts";
import { eventStream } from "../../src/sse/index.ts";

describe("directEventStreams", () => {
  const app = new Hono();
  app.get("/events", () =>
    eventStream((sink) => {
      sink.send({ data: "hello" });
      sink.close();
    }),
  );
  // Many events, each its own chunk, then the end: framed by hand on the socket (chunkFrame).
  app.get("/many", (c) => {
    const count = Number(c.req.query("count") ?? "3");
    return eventStream((sink) => {
      for (let n = 1; n <= count; n++) sink.send({ id: String(n), data: `event ${n} ${"é".repeat(n % 7)}` });
      sink.close();
    });
  });
  app.post("/append", () => new Response(null, { status: 204, headers: { "stream-next-offset": "1" } }));
  const takenOver: boolean[] = [];
  // The socket's drain listeners as each request starts: a stream's own must go when it ends.
  const drainListeners: number[] = [];
  const fetch = directEventStreams(app.fetch);
  let server: ReturnType<typeof serve>;
  let base = "";
  beforeAll(async () => {
    server = serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (request, env) => {
        drainListeners.push(env.outgoing.socket?.listenerCount("drain") ?? -1);
        const response = await fetch(request, env);
        takenOver.push(response === RESPONSE_ALREADY_SENT);
        return response;
      },
    });
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("writes an event stream straight to the ServerResponse, and leaves any other answer to @hono/node-server", async () => {
    const events = await globalThis.fetch(`${base}/events`);
    expect(events.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(await events.text()).toContain("data:hello\n\n");
    const append = await globalThis.fetch(`${base}/append`, { method: "POST", body: "x" });
    expect(append.status).toBe(204);
    expect(append.headers.get("stream-next-offset")).toBe("1");
    expect(takenOver).toEqual([true, false]);
  });

  /** GETs `path` on `agent`, read by Node's own HTTP parser (llhttp), which checks the chunked framing. */
  function get(agent: Agent, path: string): Promise<{ body: string; reusedSocket: boolean }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${base}${path}`, { agent }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (text: string) => {
          body += text;
        });
        response.on("end", () => resolve({ body, reusedSocket: request.reusedSocket }));
        response.on("error", reject);
      });
      request.on("error", reject);
      request.end();
    });
  }

  const eventsOf = (body: string) => [...body.matchAll(/^data:(.*)$/gm)].map((match) => match[1]);
  const expected = (count: number) =>
    Array.from({ length: count }, (_, i) => `event ${i + 1} ${"é".repeat((i + 1) % 7)}`);

  it("frames every chunk for HTTP/1.1 and ends the body so that the connection serves the next request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answers = [];
      const before = drainListeners.length;
      // More than Node's ten listeners of one event: each stream's drain listener on the shared
      // socket goes when its stream ends (else Node would warn, and the socket would hold them all).
      for (let n = 0; n < 12; n++) answers.push(await get(agent, `/many?count=${50 + n}`));
      expect(answers.map((answer) => eventsOf(answer.body))).toEqual(answers.map((_, n) => expected(50 + n)));
      expect(answers.map((answer) => answer.reusedSocket)).toEqual([false, ...Array(11).fill(true)]);
      const listeners = drainListeners.slice(before);
      expect(listeners).toEqual(Array(12).fill(listeners[0]));
    } finally {
      agent.destroy();
    }
  });

  it("answers pipelined requests in order (the second waits in the response's own buffer)", async () => {
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
    let raw = "";
    socket.setEncoding("latin1");
    socket.on("data", (text: string) => {
      raw += text;
    });
    const ended = new Promise((resolve) => socket.on("end", resolve));
    const get = (path: string, last: boolean) =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\n${last ? "Connection: close\r\n" : ""}\r\n`;
    socket.end(get("/many?count=5", false) + get("/many?count=8", true));
    await ended;
    const answers = raw.split("HTTP/1.1 200 OK").slice(1);
    expect(answers).toHaveLength(2);
    // Each body ends with the last chunk, in the order asked.
    expect(answers.map((answer) => answer.endsWith("\r\n0\r\n\r\n"))).toEqual([true, true]);
    expect(answers.map((answer) => [...answer.matchAll(/^data:/gm)].length)).toEqual([5, 8]);
  });
});
