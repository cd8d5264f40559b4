/**
 * Caps on open streams, in-process (Hono's `app.request`): beyond MAX_STREAMS a new stream gets 503,
 * beyond MAX_STREAMS_PER_CLIENT from one address 429, both with Retry-After and the JSON error
 * body, and a stream that ends gives its place back. The same caps run under real servers and in
 * the Durable Object in test/runtimes/stream-caps.test.ts.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";
import { eventStream, OpenStreams, StreamCapError } from "../../src/sse/index.ts";
import { readEvents, type SseReader } from "../support/sse-reader.ts";

function appWithCaps(maxStreams: number, maxStreamsPerClient: number) {
  let address = "192.0.2.1";
  const app = createApp({ ...DEFAULT_CONFIG, maxStreams, maxStreamsPerClient }, { clientAddress: () => address });
  return {
    app,
    from(next: string) {
      address = next;
    },
  };
}

async function open(app: ReturnType<typeof createApp>, path: string): Promise<SseReader> {
  const response = await app.request(path);
  expect(response.status).toBe(200);
  const reader = readEvents(response);
  await reader.opened();
  return reader;
}

async function expectRefused(app: ReturnType<typeof createApp>, path: string, status: number, code: string) {
  const response = await app.request(path);
  expect(response.status).toBe(status);
  expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
}

const activeStreams = async (app: ReturnType<typeof createApp>) =>
  ((await (await app.request("/api/stats")).json()) as { activeStreams: number }).activeStreams;

describe("stream caps", () => {
  it("answers 503 too_many_streams beyond MAX_STREAMS, tickers and feeds counted together", async () => {
    const { app, from } = appWithCaps(3, 0);
    const streams = [await open(app, "/sse"), await open(app, "/api/messages/stream")];
    from("192.0.2.2");
    streams.push(await open(app, "/api/channels/news/messages/stream"));
    for (const path of ["/sse", "/api/sse", "/api/messages/stream", "/api/ssemessages"]) {
      await expectRefused(app, path, 503, "too_many_streams");
    }
    expect(await activeStreams(app)).toBe(3);
    for (const stream of streams) await stream.cancel();
  });

  it("answers 429 too_many_client_streams to one address, and still serves another", async () => {
    const { app, from } = appWithCaps(0, 2);
    const first = [await open(app, "/sse"), await open(app, "/api/messages/stream")];
    await expectRefused(app, "/api/messages/stream", 429, "too_many_client_streams");
    await expectRefused(app, "/api/sse", 429, "too_many_client_streams");
    from("192.0.2.2");
    const other = await open(app, "/api/messages/stream");
    expect(await activeStreams(app)).toBe(3);
    for (const stream of [...first, other]) await stream.cancel();
  });

  it("gives a place back when a stream ends", async () => {
    const { app } = appWithCaps(1, 1);
    const stream = await open(app, "/api/messages/stream");
    await expectRefused(app, "/api/messages/stream", 503, "too_many_streams");
    await stream.cancel();
    expect(await activeStreams(app)).toBe(0);
    const again = await open(app, "/api/messages/stream");
    await again.cancel();
  });

  it("refuses nothing with both caps at 0, and counts no address it was not given", async () => {
    const app = createApp({ ...DEFAULT_CONFIG, maxStreams: 0, maxStreamsPerClient: 0 });
    const streams = await Promise.all(Array.from({ length: 20 }, () => open(app, "/api/messages/stream")));
    const stats = (await (await app.request("/api/stats")).json()) as { activeStreams: number; clients: number };
    expect(stats).toMatchObject({ activeStreams: 20, clients: 0 });
    for (const stream of streams) await stream.cancel();
  });
});

describe("OpenStreams caps", () => {
  it("refuses at eventStream, counts a stream closed once however often it is closed, and forgets an address with its last stream", async () => {
    const openStreams = new OpenStreams({ maxStreams: 2, maxStreamsPerClient: 1 });
    const open = (client: string) => eventStream(() => {}, { openStreams, client, keepAliveMs: 0 });
    const first = open("a");
    expect(() => open("a")).toThrow(StreamCapError);
    const other = open("b");
    expect(() => open("c")).toThrow(expect.objectContaining({ cap: "streams" }));
    const firstReader = first.body?.getReader();
    await firstReader?.read();
    await firstReader?.cancel();
    await firstReader?.cancel();
    expect(openStreams.toJSON()).toMatchObject({ activeStreams: 1, clients: 1 });
    const reader = other.body?.getReader();
    await reader?.read();
    await reader?.cancel();
    expect(openStreams.toJSON()).toMatchObject({ activeStreams: 0, clients: 0, closedBy: { "client-cancel": 2 } });
  });
});
