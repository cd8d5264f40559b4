/**
 * Seed-style peer: the classic "one shared event emitter, one listener per open stream" answer,
 * written with Hono's own `streamSSE`. Runs on Node, Bun and Deno (see README.md).
 */
import { EventEmitter } from "node:events";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { serveFetch } from "./serve.ts";

const messages = new EventEmitter();
// One listener per subscriber: without this, Node warns past 10 of them.
messages.setMaxListeners(0);

const app = new Hono();

app.get("/stream", (c) =>
  streamSSE(c, async (stream) => {
    // The payload is already text: writeSSE frames it for this subscriber, as-is.
    const onMessage = (data: string) => void stream.writeSSE({ data });
    messages.on("message", onMessage);
    const aborted = new Promise<void>((resolve) => stream.onAbort(resolve));
    // The first write releases the headers (Bun holds them until then).
    await stream.write(":\n\n");
    // Keep the stream open until the client goes away, then drop its listener.
    await aborted;
    messages.off("message", onMessage);
  }),
);

app.post("/publish", async (c) => {
  // emit() calls every listener synchronously, so every subscriber has the message on return.
  messages.emit("message", await c.req.text());
  return c.body(null, 204);
});

app.get("/stats", (c) => c.json({ activeStreams: messages.listenerCount("message") }));

await serveFetch(app.fetch);
