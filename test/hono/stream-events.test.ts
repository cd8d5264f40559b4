/**
 * edge-sse/hono in a Hono app under Node (vitest's runtime): routes and middleware answer with the
 * event stream; HEAD gets the headers and frees its stream at once; the request's signal is used
 * where asked (workerd's default) and left alone on Node, which cancels the body instead.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { eventStreamMiddleware, streamEvents } from "../../src/hono/index.ts";
import { type CloseReason, OpenStreams } from "../../src/sse/index.ts";

function parse(text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  createParser({ onEvent: (event) => events.push(event) }).feed(text);
  return events;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("streamEvents", () => {
  it("answers a route with the stream of an async generator", async () => {
    const app = new Hono();
    app.get("/numbers", (c) =>
      streamEvents(c, async function* () {
        for (let n = 1; n <= 3; n++) yield { event: "number", data: { n } };
      }),
    );
    const response = await app.request("/numbers");
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(parse(await response.text()).map((event) => JSON.parse(event.data).n)).toEqual([1, 2, 3]);
  });

  it("answers HEAD with the headers, never runs the source, and frees the stream at once", async () => {
    const openStreams = new OpenStreams();
    let started = false;
    let released = false;
    const app = new Hono();
    app.get("/ticks", (c) =>
      streamEvents(
        c,
        new ReadableStream<string>({
          start() {
            started = true;
          },
          cancel() {
            released = true;
          },
        }),
        { openStreams },
      ),
    );
    const response = await app.request("/ticks", { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.body).toBeNull();
    await settle();
    expect(released).toBe(true);
    expect(started).toBe(true); // a ReadableStream's own start runs when it is made, not by us
    expect(openStreams.activeStreams).toBe(0);
    expect(openStreams.closedBy).toEqual({ "client-cancel": 1 });
  });

  it.each([
    [undefined, "open", "Node cancels the body instead"],
    [true, "request-abort", "asked for, as workerd needs"],
  ] as const)(
    "with useRequestSignal %s, an aborted request leaves the stream %s (%s)",
    async (useRequestSignal, want, _why) => {
      const reasons: CloseReason[] = [];
      const request = new AbortController();
      const app = new Hono();
      app.get("/s", (c) =>
        streamEvents(c, () => {}, { useRequestSignal, onClose: (reason) => reasons.push(reason), keepAliveMs: 0 }),
      );
      const response = await app.request("/s", { signal: request.signal });
      const reader = response.body!.getReader();
      await reader.read();
      request.abort();
      await settle();
      expect(reasons.length === 0 ? "open" : reasons[0]).toBe(want);
      await reader.cancel();
    },
  );
});

describe("eventStreamMiddleware", () => {
  it("answers GET on its path, and passes other methods and paths on", async () => {
    const app = new Hono();
    app.use(
      "/sse",
      eventStreamMiddleware((c) => (sink) => {
        sink.send({ data: `hello ${c.req.query("name")}` });
        sink.close();
      }),
    );
    app.post("/sse", (c) => c.text("posted"));
    app.get("/other", (c) => c.text("other"));
    expect(parse(await (await app.request("/sse?name=ann")).text()).map((event) => event.data)).toEqual(["hello ann"]);
    expect(await (await app.request("/sse", { method: "POST" })).text()).toBe("posted");
    expect(await (await app.request("/other")).text()).toBe("other");
  });
});
