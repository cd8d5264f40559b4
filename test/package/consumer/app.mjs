// A user's own Hono app on edge-sse, as plain JavaScript: the same file runs on Node, Bun, Deno
// and workerd (worker.mjs). Imports only the package's public entries.

import { EventStreamError, eventStream } from "edge-sse";
import { eventStreamMiddleware, streamEvents } from "edge-sse/hono";
import { Hono } from "hono";

/** What the test reads back through GET /stats: the generators' `finally` blocks that ran. */
const stats = { finallyRan: 0, produced: 0, flooded: 0, floodFinallyRan: 0 };

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** `hub` is edge-sse/hub's MemoryHub, or edge-sse/workers' DurableObjectHub on workerd. */
export function createApp(hub) {
  const app = new Hono();

  // A finite generator: n events, then the stream ends.
  app.get("/count", (c) =>
    streamEvents(
      c,
      (async function* () {
        const n = Number(c.req.query("n") ?? 3);
        for (let i = 1; i <= n; i++) yield { event: "count", id: i, data: { i } };
      })(),
    ),
  );

  // An endless one, given the sink, like an upstream request that waits with the stream's signal.
  app.get("/forever", (c) =>
    streamEvents(
      c,
      async function* (sink) {
        try {
          for (let i = 0; ; i++) {
            stats.produced++;
            yield { event: "tick", id: i, data: { i } };
            await sleep(50, sink.signal);
          }
        } finally {
          stats.finallyRan++;
        }
      },
      { keepAliveMs: 200 },
    ),
  );

  // As fast as it may: 1 KB events with no pause, so only the client's reading holds it back.
  app.get("/flood", (c) =>
    streamEvents(
      c,
      (async function* () {
        try {
          for (;;) {
            stats.flooded++;
            yield { event: "flood", data: "x".repeat(1000) };
          }
        } finally {
          stats.floodFinallyRan++;
        }
      })(),
      { keepAliveMs: 0, maxBufferedEvents: 100 },
    ),
  );

  app.get("/fails", (c) =>
    streamEvents(
      c,
      (async function* () {
        yield "before";
        throw new EventStreamError("upstream_down", "the upstream is down");
      })(),
    ),
  );

  // The middleware form, and the core's eventStream with a function source.
  app.use(
    "/middleware",
    eventStreamMiddleware(() => (sink) => {
      sink.send({ data: "from middleware" });
      sink.close();
    }),
  );
  app.get("/core", () =>
    eventStream((sink) => {
      sink.send({ event: "core", data: { ok: true } });
      sink.close();
    }),
  );

  app.post("/messages", async (c) => c.json((await hub.publish("news", { data: await c.req.json() })).event, 201));
  app.get("/messages", async (c) => c.json((await hub.list("news", 0, 100)).map((event) => JSON.parse(event.data))));
  app.get("/stats", (c) => c.json(stats));
  return app;
}
