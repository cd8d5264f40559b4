/**
 * Several channels in one stream, with the app in-process on the in-memory hub (Hono's
 * `app.request`), read with eventsource-parser. The same cases run on real runtimes and Redis
 * (test/runtimes/channel-set.test.ts) and inside workerd (test/workers/channel-set.test.ts).
 */
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { DEFAULT_CONFIG, readConfig } from "../../src/config.ts";
import {
  type ChannelSetTarget,
  endsWhenTokenExpires,
  everyMessageOnceInOrder,
  freshChannels,
  open,
  refusesBadCursors,
  refusesUnauthorizedChannel,
  resumesFromCursor,
  streamPath,
  subscribers,
  truncatedPerChannel,
  withAdminToken,
} from "../support/channel-set-cases.ts";
import { readEvents } from "../support/sse-reader.ts";

const inProcess = (config = DEFAULT_CONFIG): ChannelSetTarget => {
  const app = createApp({ ...config, historyLimit: 5 });
  return { request: async (path, init) => app.request(path, init), historyLimit: 5 };
};

describe("GET /api/stream on the in-memory hub", () => {
  it("delivers every message of each channel once and in order under concurrent publishers", () =>
    everyMessageOnceInOrder(inProcess()));

  it("resumes each channel after its own position in the cursor", () => resumesFromCursor(inProcess()));

  it("announces history-truncated only for the channel whose history no longer reaches the cursor", () =>
    truncatedPerChannel(inProcess()));

  it("answers a forged or malformed cursor with 400 invalid_cursor and follows nothing", () =>
    refusesBadCursors(inProcess()));

  it("names each channel's presence events after the channel", async () => {
    const target = inProcess();
    const channels = freshChannels(2);
    const response = await target.request(streamPath(channels, "&presence=1"));
    const reader = readEvents(response);
    try {
      expect((await reader.next()).event).toBe("cursor");
      const seen = new Map<string, string>();
      while (seen.size < 2) {
        const event = await reader.next();
        seen.set(event.event as string, event.data);
      }
      expect(Object.fromEntries(seen)).toEqual({
        [`${channels[0]}/presence`]: '{"subscribers":1}',
        [`${channels[1]}/presence`]: '{"subscribers":1}',
      });
    } finally {
      await reader.cancel();
    }
  });

  it("counts one stream against the caps whatever its channels, and ends every channel's with it", async () => {
    const target = inProcess({ ...DEFAULT_CONFIG, maxStreamsPerClient: 1 });
    const channels = freshChannels(3);
    const { reader } = await open(target, channels);
    const stats = (await (await target.request("/api/stats")).json()) as { activeStreams: number };
    expect(stats.activeStreams).toBe(1);
    for (const channel of channels) expect(await subscribers(target, channel)).toBe(1);
    await reader.cancel();
    for (const channel of channels) expect(await subscribers(target, channel)).toBe(0);
    const after = (await (await target.request("/api/stats")).json()) as { activeStreams: number };
    expect(after.activeStreams).toBe(0);
  });

  it("answers HEAD with the stream's headers and follows nothing", async () => {
    const target = inProcess();
    const channels = freshChannels(2);
    const response = await target.request(streamPath(channels), { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    for (const channel of channels) expect(await subscribers(target, channel)).toBe(0);
    const stats = (await (await target.request("/api/stats")).json()) as { activeStreams: number };
    expect(stats.activeStreams).toBe(0);
  });

  it("refuses too many channels, a channel named twice, a bad name or none, with 400", async () => {
    const target = inProcess({ ...DEFAULT_CONFIG, maxChannelsPerStream: 2 });
    for (const path of [
      streamPath(freshChannels(3)),
      streamPath(["twice", "twice"]),
      streamPath(["bad.name"]),
      "/api/stream",
    ]) {
      const response = await target.request(path);
      expect(response.status, path).toBe(400);
      expect(await response.json()).toEqual({ error: { code: "invalid_query", message: expect.any(String) } });
    }
  });
});

describe("GET /api/stream with authorization on", () => {
  const SECRET = "a-test-secret-of-at-least-32-bytes!";
  const target = withAdminToken(inProcess(readConfig({ AUTH_SECRET: SECRET })), () =>
    sign({ sub: "admin", sse: { publish: ["*"], subscribe: ["*"] } }, SECRET),
  );
  const token = (subscribe: string[], exp = Math.floor(Date.now() / 1000) + 60) =>
    sign({ sub: "reader", exp, sse: { subscribe } }, SECRET);

  it("refuses the whole stream with 403 naming the refused channel, and streams nothing", () =>
    refusesUnauthorizedChannel(target, token));

  it("ends when the token expires, with token-expired, and sends nothing published after", () =>
    endsWhenTokenExpires(target, token));
});
