/**
 * A channel is a stream of the log (src/hub/channel-log.ts): what every backend must show of it at
 * /v1/stream/channels/<name>, checked through the app's HTTP routes. The same checks run on memory
 * (test/streams/channel-streams.test.ts), Redis and workerd, each giving its own way to reach the app.
 * Works in Node and inside workerd.
 */
import { expect } from "vitest";
import { formatOffset } from "../../src/streams/offset.ts";
import { type AppFetch, JSON_VALUES, json, type StoredEvent } from "./channel-events.ts";
import { readEvents } from "./sse-reader.ts";

const streamPath = (channel: string) => `/v1/stream/channels/${channel}`;

/** Publishes `value` and answers the event as the channel stored it (the answer names no data). */
async function publish(app: AppFetch, channel: string, value: { data: unknown; event?: string }) {
  const response = await app(`/api/channels/${channel}/events`, json(value));
  expect(response.status).toBe(201);
  const { id, event, createdAt } = (await response.json()) as StoredEvent;
  return { id, event, createdAt, data: value.data };
}

/** The channel's stream as a JSON read from `offset`: its entries and the next offset. */
async function readStream(app: AppFetch, channel: string, offset: string) {
  const response = await app(`${streamPath(channel)}?offset=${offset}`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return { entries: (await response.json()) as StoredEvent[], next: response.headers.get("stream-next-offset") };
}

/**
 * Every event published to a fresh channel is an entry of its stream, `{id, event, createdAt, data}`
 * as the publish answered it, at the offset of position id - 1: a read from -1 gets them all, a read
 * from an event's id (as an offset) gets those after it, and the next offset is the latest id's.
 */
export async function checkChannelEntries(app: AppFetch, channel: string): Promise<void> {
  const published: StoredEvent[] = [];
  for (const value of JSON_VALUES) published.push(await publish(app, channel, value));
  const all = await readStream(app, channel, "-1");
  expect(all.entries).toEqual(published);
  const last = published.at(-1) as StoredEvent;
  expect(all.next).toBe(formatOffset(last.id));
  const first = published[0] as StoredEvent;
  expect((await readStream(app, channel, formatOffset(first.id))).entries).toEqual(published.slice(1));
  const head = await app(streamPath(channel), { method: "HEAD" });
  expect(head.status).toBe(200);
  expect(head.headers.get("stream-next-offset")).toBe(formatOffset(last.id));
}

/**
 * A channel's stream keeps what the channel keeps: with `historyLimit` events retained, -1 reads the
 * newest `historyLimit`, and an offset before them answers 410 `offset_trimmed`.
 */
export async function checkChannelRetention(app: AppFetch, channel: string, historyLimit: number): Promise<void> {
  const published: StoredEvent[] = [];
  for (let index = 0; index < historyLimit + 3; index++) published.push(await publish(app, channel, { data: index }));
  expect((await readStream(app, channel, "-1")).entries).toEqual(published.slice(3));
  const trimmed = await app(`${streamPath(channel)}?offset=${formatOffset((published[0] as StoredEvent).id)}`);
  expect(trimmed.status).toBe(410);
  expect(((await trimmed.json()) as { error: { code: string } }).error.code).toBe("offset_trimmed");
}

/** A reader following a channel's stream live (SSE) gets each event as it is published, then its offset. */
export async function checkChannelLive(app: AppFetch, channel: string): Promise<void> {
  const before = await publish(app, channel, { data: "before" });
  const live = readEvents(await app(`${streamPath(channel)}?offset=${formatOffset(before.id)}&live=sse`));
  const control = await live.next();
  expect(control.event).toBe("control");
  const published = await publish(app, channel, { data: { live: true }, event: "update" });
  const data = await live.next();
  expect(data.event).toBe("data");
  expect(JSON.parse(data.data)).toEqual([published]);
  const after = await live.next();
  expect(after.event).toBe("control");
  expect((JSON.parse(after.data) as { streamNextOffset: string }).streamNextOffset).toBe(formatOffset(published.id));
  await live.cancel();
}

/** Only the channel writes its stream: a create, append or delete there is 405 and changes nothing. */
export async function checkChannelStreamReadOnly(app: AppFetch, channel: string): Promise<void> {
  const published = await publish(app, channel, { data: "kept" });
  const writes: RequestInit[] = [
    { method: "PUT", headers: { "content-type": "application/json" } },
    { method: "POST", headers: { "content-type": "application/json" }, body: '{"forged":true}' },
    { method: "DELETE" },
  ];
  for (const write of writes) {
    const response = await app(streamPath(channel), write);
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("read_only_stream");
  }
  expect((await readStream(app, channel, "-1")).entries).toEqual([published]);
}
