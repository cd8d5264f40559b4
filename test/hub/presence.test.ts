/**
 * Presence events (`?presence=1`): the channel's subscriber count, sent to the subscribers that
 * asked for it when others join or leave, coalesced to one event per interval. Read through real
 * streams and a real SSE parser; the channel's clock is faked, so "one interval later" is exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";
import { Channel, PRESENCE_EVENT, PRESENCE_INTERVAL_MS, type StreamSettings } from "../../src/hub/channel.ts";
import { MemoryEventStore } from "../../src/hub/memory-store.ts";
import { say } from "../support/publication.ts";
import { readEvents, type SseReader } from "../support/sse-reader.ts";

const SETTINGS: StreamSettings = { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 };

function channel(settings: Partial<StreamSettings> = {}) {
  return new Channel(new MemoryEventStore(1000), { ...SETTINGS, ...settings });
}

const openStreams: AbortController[] = [];
async function subscribe(target: Channel, options: { presence?: boolean; after?: number } = {}) {
  const request = new AbortController();
  openStreams.push(request);
  const reader = readEvents(
    target.stream({ after: options.after, signal: request.signal, presence: options.presence }),
  );
  await reader.opened();
  return Object.assign(reader, { leave: () => request.abort() });
}

async function nextCount(reader: SseReader): Promise<number> {
  const event = await reader.next();
  expect(event.event).toBe(PRESENCE_EVENT);
  expect(event.id).toBeUndefined();
  return (JSON.parse(event.data) as { subscribers: number }).subscribers;
}

afterEach(() => {
  for (const request of openStreams.splice(0)) request.abort();
  vi.useRealTimers();
});

describe("presence events", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });

  it("sends watchers the count once after a burst of joins, encoded once, and nothing to the others", async () => {
    const feed = channel();
    const watchers = await Promise.all([1, 2, 3].map(() => subscribe(feed, { presence: true })));
    const others = await Promise.all([1, 2].map(() => subscribe(feed)));
    const stringify = vi.spyOn(JSON, "stringify");
    await vi.runOnlyPendingTimersAsync();
    expect(stringify).toHaveBeenCalledTimes(1);
    stringify.mockRestore();

    for (const watcher of watchers) expect(await nextCount(watcher)).toBe(5);
    // The next thing anyone reads is the message: one count per burst, and none for the others.
    const sent = feed.publish(say("after the count")).event;
    for (const reader of [...watchers, ...others]) expect((await reader.next()).id).toBe(String(sent.id));
  });

  it("holds later changes until an interval after the last count, then sends the count as it is then", async () => {
    const feed = channel();
    const watcher = await subscribe(feed, { presence: true });
    await vi.runOnlyPendingTimersAsync();
    expect(await nextCount(watcher)).toBe(1);

    const a = await subscribe(feed);
    await subscribe(feed);
    a.leave();
    await subscribe(feed);
    await vi.advanceTimersByTimeAsync(PRESENCE_INTERVAL_MS - 1);
    const marker = feed.publish(say("before the interval is up")).event;
    expect((await watcher.next()).id).toBe(String(marker.id));

    await vi.advanceTimersByTimeAsync(1);
    expect(await nextCount(watcher)).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("shows watchers the count go down as subscribers leave", async () => {
    const feed = channel();
    const watcher = await subscribe(feed, { presence: true });
    const readers = await Promise.all([1, 2, 3].map(() => subscribe(feed, { presence: true })));
    await vi.runOnlyPendingTimersAsync();
    expect(await nextCount(watcher)).toBe(4);

    await readers[0]!.cancel();
    readers[1]!.leave();
    await vi.advanceTimersByTimeAsync(PRESENCE_INTERVAL_MS);
    expect(await nextCount(watcher)).toBe(2);
    expect(await nextCount(readers[2]!)).toBe(4);
    expect(await nextCount(readers[2]!)).toBe(2);
    expect(feed.stats().subscribers).toBe(2);
  });

  it("counts a subscriber that is still replaying, and leaves the replay's ids in order", async () => {
    const feed = channel();
    const ids = Array.from({ length: 5 }, (_, i) => feed.publish(say(`m${i}`)).event.id);
    const reader = await subscribe(feed, { presence: true, after: 0 });
    await vi.runOnlyPendingTimersAsync();
    const live = feed.publish(say("live")).event.id;

    const events = [];
    for (let i = 0; i < 7; i++) events.push(await reader.next());
    const counts = events.filter((event) => event.event === PRESENCE_EVENT).map((event) => JSON.parse(event.data));
    expect(counts).toEqual([{ subscribers: 1 }]);
    expect(events.filter((event) => event.event === undefined).map((event) => Number(event.id))).toEqual([
      ...ids,
      live,
    ]);
  });

  it("skips a count for a watcher with no room, rather than dropping it as too slow", async () => {
    const feed = channel({ maxBufferedEvents: 3 });
    const stalled = await subscribe(feed, { presence: true });
    for (let i = 0; i < 10; i++) {
      await subscribe(feed);
      await vi.advanceTimersByTimeAsync(PRESENCE_INTERVAL_MS);
    }
    expect(feed.stats().subscribers).toBe(11);

    // It reads again: first what fitted, then, with room again, the count as it is now.
    const counts = [await nextCount(stalled), await nextCount(stalled)];
    await subscribe(feed);
    await vi.advanceTimersByTimeAsync(PRESENCE_INTERVAL_MS);
    while (counts.at(-1) !== 12) counts.push(await nextCount(stalled));
    expect(counts.length).toBeLessThan(10);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(new Set(counts).size).toBe(counts.length);
  });

  it("sets no timer on a channel nobody watches, and clears it when the last watcher leaves", async () => {
    const feed = channel();
    const plain = await subscribe(feed);
    plain.leave();
    await subscribe(feed);
    expect(vi.getTimerCount()).toBe(0);

    const watcher = await subscribe(feed, { presence: true });
    expect(vi.getTimerCount()).toBe(1);
    await watcher.cancel();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("?presence=1 on the stream route", () => {
  it("asks for presence events on that stream only", async () => {
    const app = createApp({ ...DEFAULT_CONFIG, keepAliveMs: 0 });
    const request = new AbortController();
    openStreams.push(request);
    const plain = readEvents(await app.request("/api/channels/room/messages/stream", { signal: request.signal }));
    await plain.opened();
    const watcher = readEvents(
      await app.request("/api/channels/room/messages/stream?presence=1", { signal: request.signal }),
    );
    expect(await nextCount(watcher)).toBe(2);
    const sent = await app.request("/api/channels/room/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "hi" }),
    });
    const { id } = (await sent.json()) as { id: number };
    expect((await plain.next()).id).toBe(String(id));
    expect((await watcher.next()).id).toBe(String(id));
  });

  it.each(["yes", "2", ""])("answers ?presence=%j with a JSON 400 and opens no stream", async (value) => {
    const app = createApp(DEFAULT_CONFIG);
    const response = await app.request(`/api/messages/stream?presence=${value}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_query");
    expect(((await (await app.request("/api/stats")).json()) as { activeStreams: number }).activeStreams).toBe(0);
  });
});
