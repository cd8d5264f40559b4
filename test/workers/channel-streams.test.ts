/**
 * A channel's stream inside workerd (vitest's miniflare, HISTORY_LIMIT=100 from vitest.config.mts):
 * the channel's history is the log's stream `channels/<name>` in the channel's own object, read by
 * the Worker's Durable Streams log (DurableObjectLog) and at /v1/stream as any stream is. Each event
 * is one JSON entry at position id - 1; retention keeps the newest HISTORY_LIMIT; a live reader gets
 * new publishes over a hibernatable watcher socket that is no subscriber and keeps nothing awake.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectLog } from "../../src/hub/durable-object/index.ts";
import { WATCHER_TAG } from "../../src/hub/durable-object/stream-watchers.ts";
import { formatOffset } from "../../src/streams/offset.ts";
import {
  checkChannelEntries,
  checkChannelLive,
  checkChannelRetention,
  checkChannelStreamReadOnly,
} from "../support/channel-streams.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

const BASE = "http://edge-sse.test";
const fetchApp = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`${BASE}${path}`, init));
const HISTORY_LIMIT = 100;

let channels = 0;
const newChannel = () => `streams-${++channels}-${Date.now()}`;
const channelObject = (channel: string) => env.CHANNELS.get(env.CHANNELS.idFromName(channel));
const log = () => new DurableObjectLog(env);

interface Entry {
  id: number;
  event: string | null;
  createdAt: string;
  data: unknown;
}

async function publish(channel: string, data: unknown, event?: string): Promise<Entry> {
  const response = await fetchApp(`/api/channels/${channel}/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(event === undefined ? { data } : { data, event }),
  });
  expect(response.status).toBe(201);
  const answer = (await response.json()) as Omit<Entry, "data">;
  return { ...answer, data };
}

const entriesOf = (entries: Uint8Array[]) => entries.map((entry) => JSON.parse(new TextDecoder().decode(entry)));

const watchers = (channel: string) =>
  runInDurableObject(channelObject(channel), (_instance, state) => state.getWebSockets(WATCHER_TAG).length);

const subscribers = async (channel: string) =>
  ((await (await fetchApp(`/api/channels/${channel}/messages/stats`)).json()) as { subscribers: number }).subscribers;

describe("a channel's stream in workerd", () => {
  it("is the channel's events, each at position id - 1, read through the log and at /v1/stream", async () => {
    const channel = newChannel();
    expect(await log().head(`channels/${channel}`)).toEqual({ kind: "not-found" });
    const published = [
      await publish(channel, { n: 1 }, "order"),
      await publish(channel, "two"),
      await publish(channel, [3]),
    ];

    const read = await log().read(`channels/${channel}`, 0, 1 << 20);
    if (read.kind !== "found") throw new Error(`read ${read.kind}`);
    expect(entriesOf(read.entries)).toEqual(published);
    expect(read.next).toBe(published.length);
    expect(read.record).toMatchObject({ contentType: "application/json", head: 0, tail: 3, retention: HISTORY_LIMIT });
    const from = await log().read(`channels/${channel}`, (published[1] as Entry).id - 1, 1 << 20);
    expect(from.kind === "found" && entriesOf(from.entries)).toEqual(published.slice(1));

    const response = await fetchApp(`/v1/stream/channels/${channel}?offset=-1`);
    expect(response.status).toBe(200);
    expect(response.headers.get("stream-next-offset")).toBe(formatOffset(3));
    expect(await response.json()).toEqual(published);
    const after = await fetchApp(`/v1/stream/channels/${channel}?offset=${formatOffset(2)}`);
    expect(await after.json()).toEqual(published.slice(2));
  });

  it("keeps the newest HISTORY_LIMIT events: older offsets are trimmed, and so are their bytes", async () => {
    const channel = newChannel();
    const object = channelObject(channel);
    const total = HISTORY_LIMIT + 5;
    // Straight to the object: the route adds nothing to what the stream keeps.
    for (let i = 0; i < total; i++) await object.publish({ data: JSON.stringify(i) });
    const head = await log().head(`channels/${channel}`);
    expect(head).toMatchObject({ kind: "found", record: { head: 5, tail: total } });
    expect(await log().read(`channels/${channel}`, 0, 1 << 20)).toMatchObject({ kind: "trimmed", oldest: 5 });
    const read = await log().read(`channels/${channel}`, 5, 1 << 20);
    if (read.kind !== "found") throw new Error(`read ${read.kind}`);
    expect(entriesOf(read.entries).map((entry) => entry.id)).toEqual(
      Array.from({ length: HISTORY_LIMIT }, (_, i) => i + 6),
    );
    expect(read.record.bytes).toBe(read.entries.reduce((sum, entry) => sum + entry.byteLength, 0));
    const rows = await runInDurableObject(
      object,
      (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM entries").one().n,
    );
    expect(rows).toBe(HISTORY_LIMIT);
    // The channel's own history says the same.
    const listed = await fetchApp(`/api/channels/${channel}/events?limit=1000`);
    expect(((await listed.json()) as { events: Entry[] }).events.map((event) => event.id)).toEqual(
      Array.from({ length: HISTORY_LIMIT }, (_, i) => i + 6),
    );
  });

  it("sends a live SSE reader and a long-poll each new publish, over a watcher that is no subscriber", async () => {
    const channel = newChannel();
    const first = await publish(channel, "before");
    const reader = readEvents(await fetchApp(`/v1/stream/channels/${channel}?offset=${formatOffset(1)}&live=sse`));
    expect((await reader.next()).event).toBe("control");
    expect(await eventually(() => watchers(channel), 1)).toBe(1);

    const poll = fetchApp(`/v1/stream/channels/${channel}?offset=${formatOffset(1)}&live=long-poll`);
    const live = await publish(channel, { live: true }, "news");
    const data = await reader.next();
    expect(data.event).toBe("data");
    expect(JSON.parse(data.data)).toEqual([live]);
    expect(JSON.parse((await reader.next()).data)).toMatchObject({ streamNextOffset: formatOffset(2) });
    const polled = await poll;
    expect(polled.status).toBe(200);
    expect(await polled.json()).toEqual([live]);

    // The channel's subscribers and caps do not count it, and its frames do not reach it.
    expect(await subscribers(channel)).toBe(0);
    expect(live.id).toBe(first.id + 1);
    await reader.cancel();
    // The watcher's Worker request notices at its next write; one more publish is one.
    await publish(channel, "wakes the departed reader");
    expect(await eventually(() => watchers(channel), 0)).toBe(0);
  });

  it("lets the channel's object hibernate while a reader watches its stream and a subscriber follows it", async () => {
    const channel = newChannel();
    await publish(channel, "before");
    const subscriber = readEvents(await fetchApp(`/api/channels/${channel}/events/stream`));
    const reader = readEvents(await fetchApp(`/v1/stream/channels/${channel}?offset=${formatOffset(1)}&live=sse`));
    expect((await reader.next()).event).toBe("control");
    expect(await eventually(() => subscribers(channel), 1)).toBe(1);
    expect(await eventually(() => watchers(channel), 1)).toBe(1);
    const instances = new WeakSet<object>();
    await runInDurableObject(channelObject(channel), (instance) => {
      instances.add(instance);
    });
    // Both keep reading meanwhile (their keep-alive comments), or the Worker drops them as stalled.
    const subscribed = subscriber.next(35_000);
    const watched = reader.next(35_000);
    // As in channel-objects.test.ts: workerd evicts an idle object after about 10 s unless a request
    // is open on it; nothing here touches the object meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const after = await publish(channel, "after a nap");
    const woken = await runInDurableObject(channelObject(channel), (instance) => !instances.has(instance));
    expect(woken, "the object was still the same instance: something kept it awake").toBe(true);
    expect(Number((await subscribed).id)).toBe(after.id);
    expect(JSON.parse((await watched).data)).toEqual([after]);
    await subscriber.cancel();
    await reader.cancel();
    await publish(channel, "wakes the departed streams");
    expect(await eventually(() => subscribers(channel), 0)).toBe(0);
  }, 40_000);

  it("forks into a durable stream of its own: the channel's entries up to the fork offset, then its own", async () => {
    const channel = newChannel();
    const published = [await publish(channel, 1), await publish(channel, 2), await publish(channel, 3)];
    const fork = `forks/${channel}`;
    const created = await fetchApp(`/v1/stream/${fork}`, {
      method: "PUT",
      headers: {
        "content-type": "application/json",
        "stream-forked-from": `/v1/stream/channels/${channel}`,
        "stream-fork-offset": formatOffset(2),
      },
    });
    expect(created.status).toBe(201);
    const appended = await fetchApp(`/v1/stream/${fork}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ own: true }),
    });
    expect(appended.status).toBe(204);
    await publish(channel, 4);
    const read = await fetchApp(`/v1/stream/${fork}?offset=-1`);
    expect(await read.json()).toEqual([...published.slice(0, 2), { own: true }]);
  });

  it("answers writes to a channel's stream through the log as a stream that takes none, changing nothing", async () => {
    const channel = newChannel();
    const published = await publish(channel, "kept");
    const name = `channels/${channel}`;
    const create = { contentType: "application/json", ttlSeconds: null, expiresAt: null, closed: false, fork: null };
    expect((await log().create(name, { ...create, entries: [] })).kind).toBe("conflict");
    const append = { entries: [new TextEncoder().encode('"forged"')], contentType: "application/json" };
    expect(
      (await log().append(name, { ...append, close: false, streamSeq: undefined, producer: undefined })).kind,
    ).toBe("closed");
    await expect(log().delete(name)).rejects.toThrow(/publishing to the channel/);
    const read = await log().read(`channels/${channel}`, 0, 1 << 20);
    expect(read.kind === "found" && entriesOf(read.entries)).toEqual([published]);
  });
});

describe("a channel's stream in workerd, through the routes every backend is checked by", () => {
  it("keeps what the channel keeps (HISTORY_LIMIT), -1 reading from the oldest kept", () =>
    checkChannelRetention(fetchApp, newChannel(), HISTORY_LIMIT));
  it("holds every event at the offset of its id, as published", () => checkChannelEntries(fetchApp, newChannel()));
  it("is followed live over SSE", () => checkChannelLive(fetchApp, newChannel()));
  it("is written only by publishing to the channel", () => checkChannelStreamReadOnly(fetchApp, newChannel()));
});
