/**
 * The in-memory hub keeps only what is worth keeping: a channel that was only subscribed to goes
 * with its last subscriber, so subscriptions to made-up names cannot fill memory; a channel with
 * messages stays for its history. And HEAD on a stream route opens no stream that stays counted.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";
import { readEvents } from "../support/sse-reader.ts";

type Stats = { activeStreams: number; channels: Record<string, unknown> };
const stats = async (app: ReturnType<typeof createApp>) => (await (await app.request("/api/stats")).json()) as Stats;

describe("MemoryHub channels", () => {
  it("forgets a channel nobody published to once its last subscriber leaves", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const names = Array.from({ length: 20 }, (_, i) => `made-up-${i}`);
    const readers = await Promise.all(
      names.map(async (name) => {
        const reader = readEvents(await app.request(`/api/channels/${name}/messages/stream`));
        await reader.opened();
        return reader;
      }),
    );
    expect(Object.keys((await stats(app)).channels).sort()).toEqual([...names].sort());
    for (const reader of readers) await reader.cancel();
    expect(await stats(app)).toMatchObject({ activeStreams: 0, channels: {} });
  });

  it("keeps a channel with messages after its subscribers leave, for its history", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const reader = readEvents(await app.request("/api/channels/kept/messages/stream"));
    await reader.opened();
    const posted = await app.request("/api/channels/kept/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "stays" }),
    });
    expect(posted.status).toBe(201);
    await reader.cancel();
    expect(Object.keys((await stats(app)).channels)).toEqual(["kept"]);
    const listed = (await (await app.request("/api/channels/kept/messages")).json()) as { messages: unknown[] };
    expect(listed.messages).toHaveLength(1);
  });

  it("tells a client resuming from before a restart that what came before is gone, even with nothing published since", async () => {
    const post = (app: ReturnType<typeof createApp>, text: string) =>
      app.request("/api/messages", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
    const before = createApp(DEFAULT_CONFIG);
    const { id } = (await (await post(before, "seen")).json()) as { id: number };
    await post(before, "missed: the process stops before the client comes back");
    await new Promise((resolve) => setTimeout(resolve, 2)); // the next process starts later

    const after = createApp(DEFAULT_CONFIG); // the restarted process: an empty hub
    const reader = readEvents(
      await after.request("/api/messages/stream", { headers: { "last-event-id": String(id) } }),
    );
    const notice = await reader.next();
    expect(notice.event).toBe("history-truncated");
    const { lastEventId, oldestId } = JSON.parse(notice.data) as { lastEventId: number; oldestId: number };
    expect(lastEventId).toBe(id);
    expect(oldestId).toBeGreaterThan(id + 1);
    // What the new process publishes comes after it, with an id from that first one on.
    const { id: next } = (await (await post(after, "new")).json()) as { id: number };
    expect(next).toBe(oldestId);
    expect(Number((await reader.next()).id)).toBe(next);
    await reader.cancel();
  });
});

describe("HEAD on a stream route", () => {
  it.each(["/sse", "/api/sse", "/api/messages/stream"])(
    "answers %s with the stream's headers and keeps no stream open",
    async (path) => {
      const app = createApp(DEFAULT_CONFIG);
      const response = await app.request(path, { method: "HEAD" });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      expect((await stats(app)).activeStreams).toBe(0);
    },
  );
});
