/**
 * On Redis a channel is its stream of the log, `channels/<name>`: what the hub publishes, any
 * RedisLog reads as a stream (catch-up, HEAD, live watch), from another process. Against a real
 * redis-server; each backend has its own two connections, as a process would.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServerApp, type ServerApp } from "../../src/app/server-app.ts";
import { DEFAULT_CONFIG, streamSettings } from "../../src/config.ts";
import { channelEntryOf, envelopeMiddle } from "../../src/hub/channel-entry.ts";
import type { ChannelEvent } from "../../src/hub/channel-event.ts";
import { channelStreamName } from "../../src/hub/channel-stream-name.ts";
import type { LogChange } from "../../src/hub/log.ts";
import { connectRedis, type RedisBackend } from "../../src/hub/redis/connect.ts";
import { channelKeys } from "../../src/hub/redis/keys.ts";
import { PUBLISH_SCRIPT } from "../../src/hub/redis/publish-script.ts";
import type { StreamRecord } from "../../src/hub/stream-rules.ts";
import { SILENT_LOGGER } from "../../src/log/logger.ts";
import { OpenStreams } from "../../src/sse/index.ts";
import { formatOffset } from "../../src/streams/offset.ts";
import type { AppFetch } from "../support/channel-events.ts";
import {
  checkChannelEntries,
  checkChannelLive,
  checkChannelRetention,
  checkChannelStreamReadOnly,
} from "../support/channel-streams.ts";
import { say } from "../support/publication.ts";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

let redis: RunningRedis;
const backends: RedisBackend[] = [];
const apps: ServerApp[] = [];

beforeAll(async () => {
  redis = await startRedis({ durable: false });
});
afterEach(async () => {
  for (const { hub } of apps.splice(0)) await hub?.close();
  for (const { log, hub } of backends.splice(0)) {
    log.close();
    await hub.close();
  }
});
afterAll(async () => {
  await redis?.dispose();
});

async function backend(historyLimit: number, url = redis.url): Promise<RedisBackend> {
  const made = await connectRedis({
    url,
    historyLimit,
    streams: streamSettings(DEFAULT_CONFIG),
    openStreams: new OpenStreams(DEFAULT_CONFIG),
    timeoutMs: 2_000,
  });
  backends.push(made);
  return made;
}

let channelCount = 0;
const freshChannel = () => `cs${++channelCount}-${Date.now()}`;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const texts = (entries: Uint8Array[]) => entries.map((entry) => utf8Decoder.decode(entry));

async function readAll(on: RedisBackend, channel: string, from: number) {
  const read = await on.log.read(channelStreamName(channel), from, Number.MAX_SAFE_INTEGER);
  if (read.kind !== "found") throw new Error(`read: ${read.kind}`);
  return read;
}

describe("a channel as a stream of the log on Redis", () => {
  it("is read through another process's RedisLog: entries are the events at id - 1, trimmed to the history limit", async () => {
    const [a, b] = await Promise.all([backend(5), backend(5)]);
    const channel = freshChannel();
    const published: ChannelEvent[] = [];
    for (let i = 0; i < 12; i++) published.push((await a.hub.publish(channel, say(`m${i}`))).event);
    const last = published.at(-1) as ChannelEvent;
    const lookup = await b.log.head(channelStreamName(channel));
    expect(lookup.kind).toBe("found");
    const record = (lookup as { record: StreamRecord }).record;
    // Ids from the clock take 16 digits: the record keeps them exact (not cjson's 1.765e+15).
    expect(last.id).toBeGreaterThan(1e15);
    expect(record).toMatchObject({
      contentType: "application/json",
      ttlSeconds: null,
      expiresAt: null,
      closed: false,
      tail: last.id,
      head: last.id - 5,
      retention: 5,
    });
    const kept = published.slice(7);
    expect(record.bytes).toBe(kept.reduce((sum, event) => sum + utf8.encode(channelEntryOf(event)).byteLength, 0));
    const read = await readAll(b, channel, record.head);
    expect(texts(read.entries)).toEqual(kept.map(channelEntryOf));
    expect(read.next).toBe(last.id);
    // Offsets are positions: the event with id N is at N - 1, and what retention dropped is trimmed.
    expect(texts((await readAll(b, channel, last.id - 2)).entries)).toEqual(published.slice(10).map(channelEntryOf));
    expect(await b.log.read(channelStreamName(channel), record.head - 1, 1 << 20)).toMatchObject({
      kind: "trimmed",
      oldest: record.head,
    });
    // The hub reads the same: history, stats.
    expect(await b.hub.list(channel, 0, 100)).toEqual(kept);
    expect(await b.hub.channelStats(channel)).toMatchObject({
      latestId: last.id,
      oldestId: (kept[0] as ChannelEvent).id,
    });
  });

  it("applies a HISTORY_LIMIT changed since the record was written from the next publish on", async () => {
    const [wide, narrow] = await Promise.all([backend(5), backend(3)]);
    const channel = freshChannel();
    for (let i = 0; i < 5; i++) await wide.hub.publish(channel, { data: i });
    const last = (await narrow.hub.publish(channel, { data: 5 })).event;
    const lookup = await wide.log.head(channelStreamName(channel));
    expect(lookup).toMatchObject({ kind: "found", record: { retention: 3, tail: last.id, head: last.id - 3 } });
    expect((await wide.hub.list(channel, 0, 10)).map((event) => event.data)).toEqual(["3", "4", "5"]);
  });

  it("tells a RedisLog watcher in another process of each event as it is published", async () => {
    const [a, b] = await Promise.all([backend(50), backend(50)]);
    const channel = freshChannel();
    const first = (await a.hub.publish(channel, say("before"))).event;
    const changes: LogChange[] = [];
    const unwatch = b.log.watch(channelStreamName(channel), (change) => changes.push(change));
    // Subscribed once it has told its watcher where the stream stands.
    expect(await eventually(async () => changes.length > 0, true)).toBe(true);
    expect(changes[0]).toMatchObject({ kind: "appended", from: first.id, entries: [] });
    const next = (await a.hub.publish(channel, { data: [1, "two"], event: "named" })).event;
    expect(await eventually(async () => changes.length, 2)).toBe(2);
    expect(changes[1]).toMatchObject({ kind: "appended", from: next.id - 1, record: { tail: next.id } });
    expect(texts((changes[1] as { entries: Uint8Array[] }).entries)).toEqual([channelEntryOf(next)]);
    unwatch();
  });

  it("shares one pub/sub channel between the hub's subscribers and the log's watchers of one process", async () => {
    const [a, b] = await Promise.all([backend(50), backend(50)]);
    const channel = freshChannel();
    const subscriber = readEvents(
      await b.hub.stream(channel, { after: undefined, request: new Request("http://test/"), signal: undefined }),
    );
    await subscriber.opened();
    const changes: LogChange[] = [];
    const unwatch = b.log.watch(channelStreamName(channel), (change) => changes.push(change));
    expect(await eventually(async () => changes.length > 0, true)).toBe(true);
    const appended = () => changes.filter((change) => change.kind === "appended" && change.entries.length > 0);
    const first = (await a.hub.publish(channel, { data: 1 })).event;
    expect(Number((await subscriber.next()).id)).toBe(first.id);
    expect(await eventually(async () => appended().length, 1)).toBe(1);
    // The hub's subscriber leaves: the log's watcher still hears the channel, and the other way round.
    await subscriber.cancel();
    const second = (await a.hub.publish(channel, { data: 2 })).event;
    expect(await eventually(async () => appended().length, 2)).toBe(2);
    expect(appended()[1]).toMatchObject({ from: second.id - 1 });
    unwatch();
    const again = readEvents(
      await b.hub.stream(channel, { after: second.id, request: new Request("http://test/"), signal: undefined }),
    );
    const third = (await a.hub.publish(channel, { data: 3 })).event;
    expect(Number((await again.next()).id)).toBe(third.id);
    await again.cancel();
  });

  it("keeps positions right for a reader while publishes trim the history under it", async () => {
    const [a, b] = await Promise.all([backend(20), backend(20)]);
    const channel = freshChannel();
    await a.hub.publish(channel, say("first"));
    let publishing = true;
    const publisher = (async () => {
      for (let i = 0; i < 300; i++) await a.hub.publish(channel, say(`m${i}`));
      publishing = false;
    })();
    let reads = 0;
    while (publishing) {
      const lookup = await b.log.head(channelStreamName(channel));
      const from = (lookup as { record: StreamRecord }).record.head;
      const read = await b.log.read(channelStreamName(channel), from, 1 << 20);
      // Trimmed between the two reads: fine, the next round reads from the new head.
      if (read.kind === "trimmed") continue;
      if (read.kind !== "found") throw new Error(`read: ${read.kind}`);
      texts(read.entries).forEach((text, i) => {
        expect(JSON.parse(text).id).toBe(from + i + 1);
      });
      reads++;
    }
    await publisher;
    expect(reads).toBeGreaterThan(0);
  });

  it("stores one event for one idempotency key published from two processes at once", async () => {
    const [a, b] = await Promise.all([backend(50), backend(50)]);
    const channel = freshChannel();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).hub.publish(channel, { data: { n: i }, idempotencyKey: "k" }),
      ),
    );
    expect(answers.filter((answer) => !answer.replayed)).toHaveLength(1);
    expect(new Set(answers.map((answer) => answer.event.id)).size).toBe(1);
    const lookup = await b.log.head(channelStreamName(channel));
    const { record } = lookup as { record: StreamRecord };
    expect(record.tail - record.head).toBe(1);
    expect(texts((await readAll(b, channel, record.head)).entries)).toEqual([
      channelEntryOf(answers[0]?.event as ChannelEvent),
    ]);
  });

  it("never reuses an id a process saw: the stream starts again above it, and a resume is told it was truncated", async () => {
    const a = await backend(50);
    const channel = freshChannel();
    const first = (await a.hub.publish(channel, say("one"))).event;
    const keys = channelKeys("edge-sse", channel);
    const createdAt = new Date().toISOString();
    // As after a Redis restart that lost the end of its file: a process has seen ids up to first + 100.
    const seen = String(first.id + 100);
    const id = await redis.command(
      "EVAL",
      PUBLISH_SCRIPT,
      "3",
      keys.stream.record,
      keys.stream.entries,
      keys.stream.changes,
      envelopeMiddle(null, createdAt),
      "1",
      "50",
      seen,
      "0",
      "60",
      "",
    );
    expect(id).toBe(first.id + 101);
    const read = await readAll(a, channel, first.id + 100);
    expect(read.record).toMatchObject({ head: first.id + 100, tail: first.id + 101 });
    expect(texts(read.entries)).toEqual([channelEntryOf({ id: first.id + 101, event: null, data: "1", createdAt })]);
    const resumed = readEvents(
      await a.hub.stream(channel, { after: 0, request: new Request("http://test/"), signal: undefined }),
    );
    expect((await resumed.next()).event).toBe("history-truncated");
    expect(Number((await resumed.next()).id)).toBe(first.id + 101);
    await resumed.cancel();
  });
});

describe("a channel at /v1/stream/channels/<name> on Redis", () => {
  it("is read over HTTP on one process while another publishes: HEAD, catch-up at offsets id - 1, SSE, long-poll", async () => {
    const config = { ...DEFAULT_CONFIG, redisUrl: redis.url, publishRateLimit: 0, maxStreamsPerClient: 0 };
    const [a, b] = (await Promise.all(
      [0, 1].map(async () => {
        const made = await createServerApp(config, { logger: SILENT_LOGGER });
        apps.push(made);
        return made.app;
      }),
    )) as [ServerApp["app"], ServerApp["app"]];
    const channel = freshChannel();
    const path = `/v1/stream/channels/${channel}`;
    const post = async (text: string) =>
      (await (
        await a.request(`/api/channels/${channel}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text }),
        })
      ).json()) as { id: number };
    const first = await post("one");
    const head = await b.request(path, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toMatch(/^application\/json/);
    expect(head.headers.get("stream-next-offset")).toBe(formatOffset(first.id));
    const caughtUp = await b.request(`${path}?offset=${formatOffset(first.id - 1)}`);
    expect(caughtUp.status).toBe(200);
    const [entry] = (await caughtUp.json()) as ChannelEvent[];
    expect(entry).toMatchObject({ id: first.id, event: null, data: { id: first.id, text: "one" } });
    const live = readEvents(await b.request(`${path}?offset=${formatOffset(first.id)}&live=sse`));
    const second = await post("two");
    for (;;) {
      const event = await live.next();
      if (event.event !== "data") continue;
      expect(JSON.parse(event.data)).toMatchObject([{ id: second.id, data: { text: "two" } }]);
      break;
    }
    await live.cancel();
    // A long-poll at the tail waits for the next message, published on the other process.
    const polled = b.request(`${path}?offset=${formatOffset(second.id)}&live=long-poll`);
    const third = await post("three");
    const answer = await polled;
    expect(answer.status).toBe(200);
    expect(answer.headers.get("stream-next-offset")).toBe(formatOffset(third.id));
    expect(await answer.json()).toMatchObject([{ id: third.id, data: { text: "three" } }]);
  });
});

describe("a channel's stream on Redis, through the routes every backend is checked by", () => {
  /** Two processes on one Redis: publishes go to the first, everything else to the second. */
  async function twoProcesses(historyLimit = DEFAULT_CONFIG.historyLimit): Promise<AppFetch> {
    const config = {
      ...DEFAULT_CONFIG,
      redisUrl: redis.url,
      publishRateLimit: 0,
      maxStreamsPerClient: 0,
      historyLimit,
    };
    const [publisher, reader] = await Promise.all(
      [0, 1].map(async () => {
        const made = await createServerApp(config, { logger: SILENT_LOGGER });
        apps.push(made);
        return made.app;
      }),
    );
    return async (path, init) =>
      (path.startsWith("/api/") && init?.method === "POST" ? publisher : reader)!.request(path, init);
  }

  it("holds every event at the offset of its id, as published", async () =>
    checkChannelEntries(await twoProcesses(), freshChannel()));
  it("keeps what the channel keeps (HISTORY_LIMIT)", async () =>
    checkChannelRetention(await twoProcesses(5), freshChannel(), 5));
  it("is followed live over SSE", async () => checkChannelLive(await twoProcesses(), freshChannel()));
  it("is written only by publishing to the channel", async () =>
    checkChannelStreamReadOnly(await twoProcesses(), freshChannel()));
});

describe("a channel stored before channels were streams", () => {
  /** What the earlier version left: a counter and an XADD history of the entries with these ids. */
  async function legacyChannel(channel: string, ids: number[], counter: number): Promise<ChannelEvent[]> {
    const keys = channelKeys("edge-sse", channel);
    const events = ids.map((id) => ({
      id,
      event: null,
      data: JSON.stringify({ n: id }),
      createdAt: "2026-12-01T00:00:00.000Z",
    }));
    for (const event of events) {
      await redis.command("XADD", keys.legacy.history, `${event.id}-0`, "m", channelEntryOf(event));
    }
    await redis.command("SET", keys.legacy.counter, String(counter));
    return events;
  }

  it("moves into the channel's stream on first use, keeping ids: reads, resumes and publishes go on", async () => {
    const [a, b] = await Promise.all([backend(5), backend(5)]);
    const channel = freshChannel();
    // 201..208, of which the limit keeps the newest five.
    const events = await legacyChannel(
      channel,
      Array.from({ length: 8 }, (_, i) => 201 + i),
      208,
    );
    const resumed = readEvents(
      await b.hub.stream(channel, { after: 205, request: new Request("http://test/"), signal: undefined }),
    );
    for (const want of [206, 207, 208]) expect(Number((await resumed.next()).id)).toBe(want);
    expect(await a.hub.list(channel, 0, 100)).toEqual(events.slice(3));
    const next = await a.hub.publish(channel, { data: "after" });
    expect(next.event.id).toBe(209);
    expect(Number((await resumed.next()).id)).toBe(209);
    await resumed.cancel();
    const read = await readAll(b, channel, 204);
    expect(read.record).toMatchObject({ head: 204, tail: 209, retention: 5 });
    expect(texts(read.entries)).toEqual([...events.slice(4), next.event].map(channelEntryOf));
    // The old keys are spent.
    const { legacy } = channelKeys("edge-sse", channel);
    expect(await redis.command("EXISTS", legacy.counter, legacy.history)).toBe(0);
    // Some were dropped before the head: a resume from nothing is told.
    const fromStart = readEvents(
      await a.hub.stream(channel, { after: 0, request: new Request("http://test/"), signal: undefined }),
    );
    expect((await fromStart.next()).event).toBe("history-truncated");
    await fromStart.cancel();
  });

  it("moves in when its stream is read first, through the log (/v1/stream/channels/<name>)", async () => {
    const [a, b] = await Promise.all([backend(5), backend(5)]);
    const channel = freshChannel();
    const events = await legacyChannel(channel, [1, 2, 3, 4, 5, 6, 7], 7);
    const lookup = await b.log.head(channelStreamName(channel));
    expect(lookup).toMatchObject({ kind: "found", record: { head: 2, tail: 7, retention: 5 } });
    expect(texts((await readAll(b, channel, 2)).entries)).toEqual(events.slice(2).map(channelEntryOf));
    // Moved once: the hub of another process numbers on from it.
    expect((await a.hub.publish(channel, { data: null })).event.id).toBe(8);
    expect((await a.log.read(`${channelStreamName(channel)}-none`, 0, 100)).kind).toBe("not-found");
  });

  it("keeps only the newest run of consecutive ids, and numbers on from the counter", async () => {
    const a = await backend(50);
    const channel = freshChannel();
    // A counter lost once and reseeded: 7 and 8, then 500 and 501; the counter says 501.
    const events = await legacyChannel(channel, [7, 8, 500, 501], 501);
    expect(await a.hub.list(channel, 0, 100)).toEqual(events.slice(2));
    expect((await a.hub.publish(channel, { data: null })).event.id).toBe(502);
  });

  it("moves once when two processes use it at the same moment", async () => {
    const [a, b] = await Promise.all([backend(50), backend(50)]);
    const channel = freshChannel();
    await legacyChannel(channel, [1, 2, 3], 3);
    const published = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).hub.publish(channel, { data: i })),
    );
    expect(published.map((answer) => answer.event.id).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => 4 + i),
    );
    expect((await a.hub.list(channel, 0, 100)).map((event) => event.id)).toEqual(
      Array.from({ length: 13 }, (_, i) => 1 + i),
    );
  });
});

// Far more than the publishes of the few seconds the test runs, on any machine.
const HISTORY_FOR_ALL = 1_000_000;

describe("a channel on a Redis killed in the middle of a burst (append-only file, fsync always)", () => {
  let durable: RunningRedis;
  beforeAll(async () => {
    durable = await startRedis();
  });
  afterAll(async () => {
    await durable?.dispose();
  });

  it("keeps every event answered, once and in order, and numbers on above them after the restart", async () => {
    // History for every publish the test can make: a quiet machine made more than 1,000, and the
    // oldest two were trimmed (HISTORY_LIMIT), not lost, which this test must not take for a loss.
    const [a, b] = await Promise.all([backend(HISTORY_FOR_ALL, durable.url), backend(HISTORY_FOR_ALL, durable.url)]);
    const channel = freshChannel();
    const acknowledged: number[] = [];
    let publishing = true;
    // Four writers over two processes; while Redis is away each publish fails at once (503).
    const writers = [a, b, a, b].map(async (on) => {
      for (let n = 0; publishing; n++) {
        try {
          acknowledged.push((await on.hub.publish(channel, { data: n })).event.id);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    });
    expect(await eventually(async () => acknowledged.length >= 100, true)).toBe(true);
    await durable.stop("SIGKILL");
    await durable.restart();
    const before = acknowledged.length;
    expect(await eventually(async () => acknowledged.length >= before + 100, true)).toBe(true);
    publishing = false;
    await Promise.all(writers);

    expect(acknowledged.length).toBeLessThan(HISTORY_FOR_ALL);
    const stored = (await a.hub.list(channel, 0, HISTORY_FOR_ALL)).map((event) => event.id);
    // Gap-free and in order (a publish whose answer the kill cut off may be there too: stored, unanswered).
    expect(stored.every((id, i) => i === 0 || id === (stored[i - 1] as number) + 1)).toBe(true);
    const kept = new Set(stored);
    expect(acknowledged.filter((id) => !kept.has(id))).toEqual([]);
    expect(new Set(acknowledged).size).toBe(acknowledged.length);
    // The same through the log: the entry at position p is the event with id p + 1.
    const read = await readAll(b, channel, (stored[0] as number) - 1);
    expect(read.entries.map((entry) => JSON.parse(utf8Decoder.decode(entry)).id)).toEqual(stored);
  });
});
