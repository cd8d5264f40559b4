/**
 * The app during shutdown, in-process (Hono's `app.request`): once `openStreams.shutdown()` has
 * ended the feeds, an in-memory publish would reach nobody and die with the process, so it is
 * refused with the JSON error and stores nothing. Real processes: test/runtimes/shutdown.test.ts.
 */
import { createParser } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { shutdownOnSignal } from "../../src/app/shutdown.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { OpenStreams } from "../../src/sse/index.ts";

const post = (text: string) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ text }),
});

describe("createApp with openStreams", () => {
  it("answers a publish after shutdown with 503 shutting_down and stores nothing", async () => {
    const openStreams = new OpenStreams();
    const app = createApp(DEFAULT_CONFIG, { openStreams });
    expect((await app.request("/api/messages", post("before"))).status).toBe(201);

    openStreams.shutdown();

    const refused = await app.request("/api/channels/news/messages", post("after"));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toEqual({
      error: { code: "shutting_down", message: expect.stringContaining("shutting down") },
    });
    const listed = async (path: string) =>
      ((await (await app.request(`${path}?limit=1000`)).json()) as { messages: { text: string }[] }).messages;
    expect((await listed("/api/messages")).map((message) => message.text)).toEqual(["before"]);
    expect(await listed("/api/channels/news/messages")).toEqual([]);
  });

  it("ends a ticker and a feed stream opened after shutdown with the shutdown retry and comment", async () => {
    const openStreams = new OpenStreams();
    const app = createApp(DEFAULT_CONFIG, { openStreams });
    openStreams.shutdown();
    for (const path of ["/sse", "/api/messages/stream"]) {
      const items: unknown[] = [];
      const parser = createParser({
        onEvent: (event) => items.push({ data: event.data }),
        onRetry: (retry) => items.push({ retry }),
        onComment: (comment) => items.push({ comment }),
      });
      parser.feed(await (await app.request(path)).text());
      // No event: the ticker or feed never started.
      expect(items).toEqual([{ retry: 3000 }, { retry: expect.any(Number) }, { comment: "server shutting down" }]);
    }
  });

  it("on a signal, still sends a feed what was answered 201 in the same turn before ending it", async () => {
    const openStreams = new OpenStreams();
    const app = createApp(DEFAULT_CONFIG, { openStreams });
    const stream = await app.request("/api/messages/stream");
    const body = stream.text(); // reads to the end, which shutdown brings
    const onSignal = shutdownOnSignal({
      openStreams,
      stopServer: async () => undefined,
      timeoutMs: 1000,
      readiness: { draining: false },
      delayMs: 0,
      exit: () => undefined,
      logger: createLogger("error", () => undefined),
    });
    // Let the stream start (its source joins the channel on its first read).
    while ((await (await app.request("/api/messages/stats")).json()).subscribers < 1) await Promise.resolve();

    const published = await app.request("/api/messages", post("last words"));
    expect(published.status).toBe(201);
    onSignal("SIGTERM"); // in the same turn as the publish: its run is not sent yet

    const events: string[] = [];
    const parser = createParser({ onEvent: (event) => events.push(JSON.parse(event.data).text) });
    parser.feed(await body);
    expect(events).toEqual(["last words"]);
  });
});
