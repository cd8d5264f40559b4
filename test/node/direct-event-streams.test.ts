/**
 * The Node fast path (src/node/direct-event-streams.ts) on a real `@hono/node-server`: an event
 * stream is taken over and written straight to the ServerResponse; any other answer is left to
 * @hono/node-server, untouched (its light response kept, so it is sent by its quick path).
 */
import type { AddressInfo } from "node:net";
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
  app.post("/append", () => new Response(null, { status: 204, headers: { "stream-next-offset": "1" } }));
  const takenOver: boolean[] = [];
  const fetch = directEventStreams(app.fetch);
  let server: ReturnType<typeof serve>;
  let base = "";
  beforeAll(async () => {
    server = serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (request, env) => {
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
});
