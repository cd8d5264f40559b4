/**
 * The channel core with the in-memory store, read through real streams and a real SSE parser:
 * fan-out, resume, history limits and backpressure.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Channel, HISTORY_TRUNCATED_EVENT, type StreamSettings } from "../../src/hub/channel.ts";
import { type EventDraft, formatChannelEvent } from "../../src/hub/channel-event.ts";
import { MAX_IDEMPOTENCY_KEYS, MemoryEventStore } from "../../src/hub/memory-store.ts";
import { say } from "../support/publication.ts";
import { readEvents } from "../support/sse-reader.ts";

const SETTINGS: StreamSettings = { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 };

function channel(historyLimit = 1000, settings: Partial<StreamSettings> = {}) {
  return new Channel(new MemoryEventStore(historyLimit), { ...SETTINGS, ...settings });
}

const openStreams: AbortController[] = [];
/** A subscriber whose stream the server has started: its response came, as for a real client. */
async function subscribe(target: Channel, after?: number) {
  const request = new AbortController();
  openStreams.push(request);
  const reader = readEvents(target.stream({ after, signal: request.signal }));
  await reader.opened();
  return reader;
}
afterEach(() => {
  for (const request of openStreams.splice(0)) request.abort();
});

describe("Channel", () => {
  it("delivers each message to every subscriber, as camelCase JSON with the id as event id", async () => {
    const feed = channel();
    const readers = await Promise.all([subscribe(feed), subscribe(feed), subscribe(feed)]);
    const sent = feed.publish(say("hello", "ann")).event;
    for (const reader of readers) {
      const event = await reader.next();
      expect(event.id).toBe(String(sent.id));
      expect(JSON.parse(event.data)).toEqual({
        id: sent.id,
        text: "hello",
        author: "ann",
        createdAt: expect.any(String),
      });
    }
  });

  it("serialises a message once, however many subscribers there are", async () => {
    const feed = channel();
    await Promise.all(Array.from({ length: 50 }, () => subscribe(feed)));
    expect(feed.stats().subscribers).toBe(50);
    const stringify = vi.spyOn(JSON, "stringify");
    feed.publish(say("once"));
    expect(stringify).toHaveBeenCalledTimes(1);
    stringify.mockRestore();
  });

  it("replays exactly the messages after the client's last id, then continues live", async () => {
    const feed = channel();
    const ids = Array.from({ length: 5 }, (_, i) => feed.publish(say(`m${i}`)).event.id);
    const reader = await subscribe(feed, ids[1]);
    const live = feed.publish(say("live")).event.id;
    const received = [];
    for (let i = 0; i < 4; i++) received.push(Number((await reader.next()).id));
    expect(received).toEqual([ids[2], ids[3], ids[4], live]);
    await expect(reader.next(50)).rejects.toThrow(/no event/);
  });

  it("tells a client that asks for trimmed history, then sends what is retained", async () => {
    const feed = channel(3);
    const ids = Array.from({ length: 6 }, (_, i) => feed.publish(say(`m${i}`)).event.id);
    const reader = await subscribe(feed, ids[0]);
    const notice = await reader.next();
    expect(notice.event).toBe(HISTORY_TRUNCATED_EVENT);
    expect(JSON.parse(notice.data)).toEqual({ lastEventId: ids[0], oldestId: ids[3] });
    const replayed = [];
    for (let i = 0; i < 3; i++) replayed.push(Number((await reader.next()).id));
    expect(replayed).toEqual(ids.slice(3));
  });

  it("keeps order with no gap or duplicate when messages arrive during a slow replay", async () => {
    // A buffer of 8 events forces the replay to stop and resume as the client reads.
    const feed = channel(1000, { maxBufferedEvents: 8, maxBufferedBytes: 8 * 4096 });
    const before = Array.from({ length: 100 }, (_, i) => feed.publish(say(`old ${i}`)).event.id);
    const reader = await subscribe(feed, 0);
    const received: number[] = [];
    const after: number[] = [];
    while (received.length < 150) {
      received.push(Number((await reader.next()).id));
      if (after.length < 50 && received.length % 2 === 0) after.push(feed.publish(say("new")).event.id);
    }
    expect(received).toEqual([...before, ...after]);
    expect(feed.stats().subscribers).toBe(1);
  });

  it("sends each message once when a subscriber resumes or joins while a run of publishes is pending", async () => {
    const feed = channel();
    const before = await subscribe(feed);
    // One turn of the event loop: a run of three, then a resume from the first and a live-only
    // join while the run is still unsent, then two more.
    const ids = ["m1", "m2", "m3"].map((text) => feed.publish(say(text)).event.id);
    const resumeRequest = new AbortController();
    const joinRequest = new AbortController();
    openStreams.push(resumeRequest, joinRequest);
    const resumed = readEvents(feed.stream({ after: ids[0], signal: resumeRequest.signal }));
    const joined = readEvents(feed.stream({ after: undefined, signal: joinRequest.signal }));
    // Their sources start when their bodies are first read, a few microtasks later: still in this
    // turn, with the run unsent.
    const opening = [resumed.opened(), joined.opened()];
    for (let i = 0; i < 100 && feed.stats().subscribers < 3; i++) await Promise.resolve();
    expect(feed.stats()).toMatchObject({ subscribers: 3, catchingUp: 0 });
    ids.push(...["m4", "m5"].map((text) => feed.publish(say(text)).event.id));
    await Promise.all(opening);

    const idsOf = async (reader: typeof before, count: number) => {
      const received = [];
      for (let i = 0; i < count; i++) received.push(Number((await reader.next()).id));
      await expect(reader.next(50)).rejects.toThrow(/no event/);
      return received;
    };
    expect(await idsOf(before, 5)).toEqual(ids);
    expect(await idsOf(resumed, 4)).toEqual(ids.slice(1));
    expect(await idsOf(joined, 2)).toEqual(ids.slice(3));
  });

  it("drops a subscriber that stops reading, without holding back the others", async () => {
    const feed = channel(1000, { maxBufferedEvents: 10 });
    const stalled = await subscribe(feed);
    const reading = await subscribe(feed);
    const ids = [];
    for (let i = 0; i < 30; i++) {
      ids.push(feed.publish(say(`m${i}`)).event.id);
      expect(Number((await reading.next()).id)).toBe(ids[i]);
    }
    expect(feed.stats().subscribers).toBe(1);
    await expect(stalled.next()).rejects.toThrow(/unread/);
  });

  it("forgets a subscriber as soon as its client leaves", async () => {
    const feed = channel();
    const reader = await subscribe(feed);
    expect(feed.stats().subscribers).toBe(1);
    await reader.cancel();
    expect(feed.stats().subscribers).toBe(0);
  });
});

const draft = (value: unknown, event: string | null = null): EventDraft => ({
  event,
  data: JSON.stringify(value),
  idInData: false,
});
const AT = "2026-01-01T00:00:00.000Z";

describe("MemoryEventStore", () => {
  it("keeps the last N events with increasing ids from the first id", () => {
    const store = new MemoryEventStore(100, { firstId: 500 });
    for (let i = 0; i < 1000; i++) store.append(draft(String(i)), AT);
    expect(store.latestId()).toBe(1499);
    expect(store.oldestId()).toBe(1400);
    expect(store.after(0, 1000).map((event) => event.id)).toEqual(Array.from({ length: 100 }, (_, i) => 1400 + i));
    expect(store.after(1450, 3).map((event) => JSON.parse(event.data))).toEqual(["951", "952", "953"]);
    expect(store.after(1499, 10)).toEqual([]);
  });

  it("stores a publication with a key it has seen once, and answers the first event to the retry", () => {
    const store = new MemoryEventStore(100);
    const first = store.append(draft({ n: 1 }, "made"), AT, "key-1");
    const retry = store.append(draft({ n: 2 }), AT, "key-1");
    expect(first.replayed).toBe(false);
    expect(retry).toEqual({ event: first.event, replayed: true });
    expect(store.append(draft({ n: 3 }), AT, "key-2").event.id).toBe(first.event.id + 1);
    expect(store.after(0, 10).map((event) => event.data)).toEqual(['{"n":1}', '{"n":3}']);
  });

  it("forgets a key after its TTL, and the oldest keys beyond MAX_IDEMPOTENCY_KEYS", () => {
    vi.useFakeTimers({ now: Date.parse(AT), toFake: ["Date"] });
    try {
      const store = new MemoryEventStore(10, { idempotencyKeyTtlSeconds: 60 });
      store.append(draft(1), AT, "once");
      vi.advanceTimersByTime(59_000);
      expect(store.append(draft(2), AT, "once").replayed).toBe(true);
      vi.advanceTimersByTime(1_000);
      expect(store.append(draft(3), AT, "once").replayed).toBe(false);
      for (let i = 0; i < MAX_IDEMPOTENCY_KEYS; i++) store.append(draft(i), AT, `k${i}`);
      expect(store.append(draft("again"), AT, "k1").replayed).toBe(true);
      expect(store.append(draft("again"), AT, "once").replayed).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it("writes the id first into an object's data when asked, as the seed's messages carry it", () => {
    const store = new MemoryEventStore(10, { firstId: 7 });
    const idFirst = (value: object): EventDraft => ({ ...draft(value), idInData: true });
    expect(store.append(idFirst({ text: "a", author: null }), AT).event.data).toBe('{"id":7,"text":"a","author":null}');
    expect(store.append(idFirst({}), AT).event.data).toBe('{"id":8}');
  });
});

describe("draftOf", () => {
  it.each([
    ["an event name with a line break", { data: 1, event: "a\ndata: x" }],
    ["an event name with a space", { data: 1, event: "a b" }],
    ["a reserved event name", { data: 1, event: "presence" }],
    ["data that is no JSON value", { data: undefined }],
    ["idInData with an array", { data: [1], idInData: true }],
    ["idInData with an object that has an id", { data: { id: 3 }, idInData: true }],
  ])("refuses %s with a TypeError, before anything is stored", (_name, publication) => {
    const feed = channel();
    expect(() => feed.publish(publication)).toThrow(TypeError);
    expect(feed.list(0, 10)).toEqual([]);
  });

  it("serialises the data compactly, so that it is one data: line whatever its strings hold", () => {
    const feed = channel();
    const { event } = feed.publish({ data: { text: "a\nb\r\nc", list: [1, { x: null }] }, event: "note:v1" });
    expect(event.data).toBe('{"text":"a\\nb\\r\\nc","list":[1,{"x":null}]}');
    expect(formatChannelEvent(event)).toBe(`id: ${event.id}\nevent: note:v1\ndata:${event.data}\n\n`);
  });
});
