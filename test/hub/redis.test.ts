/**
 * The Redis hub against a real redis-server. Two hubs on one Redis stand for two processes: each
 * has its own two connections, exactly as two servers would.
 */
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import type { Message } from "../../src/app/message.ts";
import { createServerApp } from "../../src/app/server-app.ts";
import { DEFAULT_CONFIG, streamSettings } from "../../src/config.ts";
import type { ChannelSubscriber } from "../../src/hub/channel.ts";
import { decodeStored, envelopeMiddle } from "../../src/hub/channel-entry.ts";
import type { ChannelEvent } from "../../src/hub/channel-event.ts";
import { connectRedisHub } from "../../src/hub/redis/connect.ts";
import { RedisHub } from "../../src/hub/redis/hub.ts";
import { channelKeys } from "../../src/hub/redis/keys.ts";
import { appendedText } from "../../src/hub/redis/log-notice.ts";
import { PUBLISH_SCRIPT } from "../../src/hub/redis/publish-script.ts";
import { sha1 } from "../../src/hub/redis/script-sha.ts";
import { SILENT_LOGGER } from "../../src/log/logger.ts";
import { OpenStreams } from "../../src/sse/index.ts";
import {
  type AppFetch,
  BAD_PUBLICATIONS,
  checkIdempotency,
  checkMessageIdempotency,
  checkRejection,
  checkRoundTrip,
  json,
  listEvents,
} from "../support/channel-events.ts";
import { say } from "../support/publication.ts";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { eventually, readEvents, type SseReader } from "../support/sse-reader.ts";

let redis: RunningRedis;
const hubs: RedisHub[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});
afterAll(async () => {
  await redis?.dispose();
});

const config = { ...DEFAULT_CONFIG, historyLimit: 50, publishRateLimit: 0, maxStreamsPerClient: 0 };

async function hub(historyLimit = config.historyLimit): Promise<RedisHub> {
  const made = await connectRedisHub({
    url: redis.url,
    historyLimit,
    streams: streamSettings(config),
    openStreams: new OpenStreams(config),
    timeoutMs: 1_000,
  });
  hubs.push(made);
  return made;
}

let channelCount = 0;
const freshChannel = () => `c${++channelCount}-${Date.now()}`;

async function follow(on: RedisHub, channel: string, after?: number, presence = false): Promise<SseReader> {
  const request = new Request("http://test/");
  const reader = readEvents(await on.stream(channel, { after, request, signal: undefined, presence }));
  await reader.opened();
  return reader;
}

/** Reads `count` message events (and any other events met on the way, returned separately). */
async function take(reader: SseReader, count: number) {
  const ids: number[] = [];
  const others: { event: string | undefined; data: string }[] = [];
  while (ids.length < count) {
    const event = await reader.next();
    if (event.event === undefined) {
      const message = JSON.parse(event.data) as Message;
      expect(Number(event.id)).toBe(message.id);
      ids.push(message.id);
    } else others.push({ event: event.event, data: event.data });
  }
  return { ids, others };
}

/** Publishes the demo's message `{text}` (its id first in its data), as the app does. */
const send = async (on: RedisHub, channel: string, text: string): Promise<ChannelEvent> =>
  (await on.publish(channel, say(text))).event;

const increasingByOne = (ids: number[]) => ids.every((id, i) => i === 0 || id === (ids[i - 1] as number) + 1);

describe("RedisHub", () => {
  it("numbers messages gap-free across two processes and lists them in order, as camelCase JSON", async () => {
    const [a, b] = await Promise.all([hub(), hub()]);
    const channel = freshChannel();
    const published = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i % 2 ? a : b, channel, `m${i}`)));
    const ids = published.map((message) => message.id).sort((x, y) => x - y);
    expect(increasingByOne(ids)).toBe(true);
    const listed = await b.list(channel, 0, 100);
    expect(listed.map((message) => message.id)).toEqual(ids);
    expect(Object.keys(JSON.parse((listed[0] as ChannelEvent).data))).toEqual(["id", "text", "author", "createdAt"]);
    expect(await a.list(channel, ids[29] as number, 5)).toEqual(listed.slice(30, 35));
    expect(await a.channelStats(channel)).toMatchObject({ latestId: ids.at(-1), oldestId: ids[0] });
  });

  it("delivers each message once, in order, to subscribers on every process", async () => {
    const [a, b] = await Promise.all([hub(), hub()]);
    const channel = freshChannel();
    const readers = [await follow(a, channel), await follow(b, channel), await follow(b, channel)];
    const published = await Promise.all(Array.from({ length: 60 }, (_, i) => send(i % 2 ? a : b, channel, `m${i}`)));
    const ids = published.map((message) => message.id).sort((x, y) => x - y);
    for (const reader of readers) expect((await take(reader, 60)).ids).toEqual(ids);
    expect((await b.channelStats(channel)).subscribers).toBe(2);
  });

  it("replays after Last-Event-ID then goes live with no gap and no duplicate while others publish", async () => {
    const [a, b] = await Promise.all([hub(), hub()]);
    const channel = freshChannel();
    const first = await send(a, channel, "first");
    for (let i = 0; i < 20; i++) await send(a, channel, `before ${i}`);
    let publishing = true;
    const during = (async () => {
      let n = 0;
      while (publishing) await send(n++ % 2 ? a : b, channel, `during ${n}`);
    })();
    const resumed = await follow(b, channel, first.id);
    const { ids: early } = await take(resumed, 30);
    publishing = false;
    await during;
    const latest = (await a.channelStats(channel)).latestId;
    const { ids: rest } = await take(resumed, latest - (early.at(-1) as number));
    const ids = [...early, ...rest];
    expect(ids[0]).toBe(first.id + 1);
    expect(increasingByOne(ids)).toBe(true);
    expect(ids.at(-1)).toBe(latest);
  });

  it("reads announcements it never received from the history, in order", async () => {
    const [a] = await Promise.all([hub()]);
    const channel = freshChannel();
    const reader = await follow(a, channel);
    const keys = channelKeys("edge-sse", channel);
    const before = await send(a, channel, "announced");
    // Stored, but announced on a pub/sub channel nobody listens to: as if the announcement was lost.
    const createdAt = new Date().toISOString();
    const rest = `,${JSON.stringify({ text: "lost", author: null, createdAt }).slice(1)}`;
    for (let i = 0; i < 3; i++) {
      await redis.command(
        "EVAL",
        PUBLISH_SCRIPT,
        "3",
        keys.stream.record,
        keys.stream.entries,
        `${keys.stream.changes}:nowhere`,
        envelopeMiddle(null, createdAt),
        rest,
        "50",
        "0",
        "1",
        "60",
        "",
      );
    }
    const after = await send(a, channel, "announced again");
    const { ids, others } = await take(reader, 5);
    expect(ids).toEqual([before.id, before.id + 1, before.id + 2, before.id + 3, after.id]);
    expect(after.id).toBe(before.id + 4);
    expect(others).toEqual([]);
  });

  it("sends history-truncated when a resume asks for what the history no longer holds", async () => {
    const a = await hub(5);
    const channel = freshChannel();
    const published: ChannelEvent[] = [];
    for (let i = 0; i < 12; i++) published.push(await send(a, channel, `m${i}`));
    const reader = await follow(a, channel, (published[0] as ChannelEvent).id);
    const truncated = await reader.next();
    expect(truncated.event).toBe("history-truncated");
    expect(JSON.parse(truncated.data)).toEqual({ lastEventId: published[0]?.id, oldestId: published[7]?.id });
    expect((await take(reader, 5)).ids).toEqual(published.slice(7).map((message) => message.id));
  });

  it("never issues an id again after Redis lost the channel's record, nor after it lost everything", async () => {
    const a = await hub();
    const channel = freshChannel();
    const keys = channelKeys("edge-sse", channel);
    const first = await send(a, channel, "one");
    await redis.command("DEL", keys.stream.record);
    const second = await send(a, channel, "two");
    expect(second.id).toBeGreaterThan(first.id);
    const reader = await follow(a, channel);
    await redis.command("FLUSHALL");
    const third = await send(a, channel, "three");
    expect(third.id).toBeGreaterThan(second.id);
    expect((await take(reader, 1)).ids).toEqual([third.id]);
    expect((await a.list(channel, 0, 10)).map((message) => message.id)).toEqual([third.id]);
  });

  it("answers a publish with 503 backend_unavailable while Redis is down, stores nothing, and recovers", async () => {
    const a = await hub();
    const app = createApp(config, { hub: a, openStreams: new OpenStreams(config) });
    const channel = freshChannel();
    const post = (text: string) =>
      app.request(`/api/channels/${channel}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
    const stored = (await (await post("before")).json()) as Message;
    const reader = readEvents(await app.request(`/api/channels/${channel}/messages/stream`));
    await reader.opened();
    await redis.stop();
    try {
      const refused = await post("while down");
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("2");
      expect(await refused.json()).toEqual({
        error: { code: "backend_unavailable", message: "redis cannot be reached: try again shortly" },
      });
      expect((await app.request(`/api/channels/${channel}/messages`)).status).toBe(503);
      expect((await app.request(`/api/channels/${channel}/messages/stats`)).status).toBe(503);
      expect(a.backendStatus()).toEqual({ backend: "redis", connected: false });
    } finally {
      await redis.restart();
    }
    // The subscriber stayed connected; once the hub has reconnected, publishing works again.
    let after: Response;
    do {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await post("after");
    } while (after.status === 503);
    expect(after.status).toBe(201);
    const next = (await after.json()) as Message;
    expect(next.id).toBe(stored.id + 1);
    expect((await take(reader, 1)).ids).toEqual([next.id]);
    const listed = (await (await app.request(`/api/channels/${channel}/messages`)).json()) as { messages: Message[] };
    expect(listed.messages.map((message) => message.text)).toEqual(["before", "after"]);
  });

  it("answers 503 within REDIS_TIMEOUT_MS when Redis stops answering but keeps its connections (paused), and goes on after", async () => {
    const server = await createServerApp(
      { ...config, redisUrl: redis.url, redisTimeoutMs: 300 },
      { logger: SILENT_LOGGER },
    );
    const { app } = server;
    const channel = freshChannel();
    const publish = (text: string) =>
      app.request(`/api/channels/${channel}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
    const append = (body: string) =>
      app.request(`/v1/stream/paused-${channel}`, { method: "POST", headers: { "content-type": "text/plain" }, body });
    try {
      expect((await publish("before")).status).toBe(201);
      const created = await app.request(`/v1/stream/paused-${channel}`, {
        method: "PUT",
        headers: { "content-type": "text/plain" },
      });
      expect(created.status).toBe(201);
      redis.pause();
      try {
        // node-redis's own timeout ends once a command is written: without a deadline of our own,
        // these would wait for as long as Redis is paused (the test's timeout).
        for (const refused of [await publish("while paused"), await append("while paused")]) {
          expect(refused.status).toBe(503);
          expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("backend_unavailable");
        }
      } finally {
        redis.resume();
      }
      // What was answered 503 may still have been applied once Redis went on: only "after" is asked of it.
      const after = await publish("after");
      expect(after.status).toBe(201);
      expect((await append("after")).status).toBe(204);
      const listed = (await (await app.request(`/api/channels/${channel}/messages`)).json()) as { messages: Message[] };
      expect(listed.messages.map((message) => message.text)).toContain("before");
      expect(listed.messages.at(-1)?.text).toBe("after");
    } finally {
      await server.hub?.close();
    }
  });

  it("catches a subscriber up on what was published while its pub/sub connection was down", async () => {
    const [a, b] = await Promise.all([hub(), hub()]);
    const channel = freshChannel();
    const reader = await follow(a, channel);
    const ids: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) ids.push((await send(b, channel, `m${round}.${i}`)).id);
      expect(await redis.command("CLIENT", "KILL", "TYPE", "pubsub")).toBeGreaterThan(0);
      // At once, all together: published before the client can have resubscribed (its first retry
      // waits 50 ms), so their announcements reach nobody and only re-reading the history finds them.
      const lost = await Promise.all(Array.from({ length: 10 }, (_, i) => send(b, channel, `n${round}.${i}`)));
      ids.push(...lost.map((message) => message.id).sort((x, y) => x - y));
    }
    const { ids: received, others } = await take(reader, ids.length);
    expect(received).toEqual(ids);
    expect(others).toEqual([]);
  });

  it("answers 503, not 500, when the shared publish rate limit cannot reach Redis", async () => {
    const { app, hub: made } = await createServerApp(
      { ...config, redisUrl: redis.url, redisTimeoutMs: 1_000, publishRateLimit: 100 },
      { logger: SILENT_LOGGER },
    );
    hubs.push(made as RedisHub);
    const channel = freshChannel();
    const post = () =>
      app.request(`/api/channels/${channel}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "counted" }),
      });
    const counted = await post();
    expect(counted.status).toBe(201);
    expect(counted.headers.get("ratelimit-remaining")).toBe("99");
    await redis.stop();
    try {
      const refused = await post();
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("backend_unavailable");
    } finally {
      await redis.restart();
    }
  });

  it("counts presence over every process: a watcher sees subscribers of the other process come and go", async () => {
    const [a, b] = await Promise.all([hub(), hub()]);
    const channel = freshChannel();
    const watcher = await follow(a, channel, undefined, true);
    const presence = async (want: number) => {
      for (;;) {
        const event = await watcher.next();
        expect(event.event).toBe("presence");
        expect(event.id).toBeUndefined();
        if ((JSON.parse(event.data) as { subscribers: number }).subscribers === want) return;
      }
    };
    await presence(1);
    const others = await Promise.all([follow(b, channel), follow(b, channel), follow(a, channel)]);
    await presence(4);
    for (const other of others.slice(0, 2)) await other.cancel();
    await presence(2);
  }, 30_000);
});

describe("channel events on Redis", () => {
  /** Two apps, each on its own hub (its own connections): two processes on one Redis. */
  async function twoApps(): Promise<AppFetch[]> {
    return Promise.all(
      [0, 1].map(async () => {
        const app = createApp(config, { hub: await hub(), openStreams: new OpenStreams(config) });
        return async (path: string, init?: RequestInit) => app.request(path, init);
      }),
    );
  }

  it("round-trips any JSON value, named or not, through publish, stream, replay and list", async () => {
    await checkRoundTrip((await twoApps())[0] as AppFetch, freshChannel());
  });

  it.each(BAD_PUBLICATIONS.slice(0, 4))("rejects %s and stores nothing", async (...rejection) => {
    await checkRejection((await twoApps())[0] as AppFetch, freshChannel(), rejection);
  });

  it("stores a publication retried with one Idempotency-Key once, across two processes at once", async () => {
    await checkIdempotency(await twoApps(), freshChannel(), 10);
  });

  it("keeps an idempotency key in the channel's slot for IDEMPOTENCY_KEY_TTL_SECONDS", async () => {
    const made = await connectRedisHub({
      url: redis.url,
      historyLimit: 10,
      idempotencyKeyTtlSeconds: 120,
      streams: streamSettings(config),
      openStreams: new OpenStreams(config),
      timeoutMs: 1_000,
    });
    hubs.push(made);
    const channel = freshChannel();
    const first = await made.publish(channel, { data: { n: 1 }, idempotencyKey: "k" });
    const key = `${channelKeys("edge-sse", channel).idempotencyPrefix}k`;
    const ttl = Number(await redis.command("TTL", key));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
    // The channel stream's hash tag, first in the key: the same Cluster slot as its record and entries.
    expect(key.startsWith(`edge-sse:stream:{channels/${channel}}:`)).toBe(true);
    await redis.command("DEL", key);
    const after = await made.publish(channel, { data: { n: 2 }, idempotencyKey: "k" });
    expect(after.replayed).toBe(false);
    expect(after.event.id).toBe(first.event.id + 1);
  });

  it("answers a retried message with the first message, in the seed's shape", async () => {
    await checkMessageIdempotency((await twoApps())[0] as AppFetch, freshChannel());
  });

  it("replays and lists messages stored by the version before generic events, as they were", async () => {
    const [app] = (await twoApps()) as [AppFetch];
    const channel = freshChannel();
    const keys = channelKeys("edge-sse", channel);
    // What the earlier script stored: the message itself, its id first, in field `m`.
    const old = { id: 41, text: "from before", author: "ann", createdAt: "2026-12-01T00:00:00.000Z" };
    await redis.command("XADD", keys.legacy.history, "41-0", "m", JSON.stringify(old));
    await redis.command("SET", keys.legacy.counter, "41");
    const reader = readEvents(
      await app(`/api/channels/${channel}/messages/stream`, { headers: { "last-event-id": "40" } }),
    );
    const replayed = await reader.next();
    expect({ id: replayed.id, event: replayed.event, data: replayed.data }).toEqual({
      id: "41",
      event: undefined,
      data: JSON.stringify(old),
    });
    const next = (await (await app(`/api/channels/${channel}/messages`, json({ text: "after" }))).json()) as Message;
    expect(next.id).toBe(42);
    expect(Number((await reader.next()).id)).toBe(42);
    await reader.cancel();
    const listed = (await (await app(`/api/channels/${channel}/messages`)).json()) as { messages: Message[] };
    expect(listed.messages).toEqual([old, next]);
    expect(await listEvents(app, channel)).toEqual([
      { id: 41, event: null, data: old, createdAt: old.createdAt },
      { id: 42, event: null, data: next, createdAt: expect.any(String) },
    ]);
  });
});

/** A subscriber that takes events as they are (a multi-channel stream's channel), recording each call. */
class Recorder implements ChannelSubscriber {
  readonly closed = false;
  onPull: (() => void) | undefined = undefined;
  /** The ids of each `take`, one array per call. */
  readonly takes: number[][] = [];
  readonly notices: string[] = [];

  constructor(private readonly log: string[] = []) {}

  get ids(): number[] {
    return this.takes.flat();
  }

  take(events: readonly ChannelEvent[]): boolean {
    this.log.push("take");
    this.takes.push(events.map((event) => event.id));
    return true;
  }

  write(bytes: Uint8Array): boolean {
    this.notices.push(new TextDecoder().decode(bytes));
    return true;
  }

  send(event: { event?: string | undefined }): boolean {
    this.notices.push(event.event ?? "message");
    return true;
  }

  fits(): boolean {
    return true;
  }
}

async function follows(on: RedisHub, channel: string, to: ChannelSubscriber, after?: number): Promise<void> {
  (await (on.subscribe as NonNullable<RedisHub["subscribe"]>)(channel, { after })).start(to);
}

/** Publishes `count` messages at once: node-redis writes them to Redis together, so their announcements come back in one read. */
async function burst(on: RedisHub, channel: string, count: number): Promise<number[]> {
  const published = await Promise.all(Array.from({ length: count }, (_, i) => send(on, channel, `m${i}`)));
  return published.map((message) => message.id).sort((x, y) => x - y);
}

describe("RedisHub runs: what one read announces goes out at the end of the turn", () => {
  it("writes the announcements read together to each subscriber as one write, in order", async () => {
    const a = await hub();
    const channel = freshChannel();
    const request = new Request("http://test/");
    const body = (await a.stream(channel, { after: undefined, request, signal: undefined })).body;
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // retry: the stream has started
    const taking = new Recorder();
    await follows(a, channel, taking);
    // The channel's first id jumps (from the clock) and is read from the history: then the hot path.
    const opening = (await send(a, channel, "opening")).id;
    expect(await eventually(async () => taking.ids.length, 1)).toBe(1);
    const ids = await burst(a, channel, 5);
    let chunk = "";
    // Keep-alive comments may come first; the first chunk with events must hold the whole burst.
    while (!chunk.includes(`id: ${ids[0]}`)) chunk = new TextDecoder().decode((await reader.read()).value);
    expect([...chunk.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]))).toEqual(ids);
    // Written in the same task as the stream's chunk.
    expect(taking.takes).toEqual([[opening], ids]);
    await reader.cancel();
  });

  it("sends each message once to subscribers that join, resume or wait ahead while a run is pending", async () => {
    const commands = createClient({ url: redis.url });
    const subscriber = createClient({ url: redis.url });
    await Promise.all([commands.connect(), subscriber.connect()]);
    const b = new RedisHub({
      commands,
      subscriber,
      publishScriptSha: await sha1(PUBLISH_SCRIPT),
      historyLimit: config.historyLimit,
      streams: streamSettings(config),
      openStreams: new OpenStreams(config),
      timeoutMs: 1_000,
    });
    hubs.push(b);
    const channel = freshChannel();
    const log: string[] = [];
    const before = new Recorder(log);
    await follows(b, channel, before);
    // A channel's first id jumps (from the clock): it is read from the history, not on the hot path.
    const opening = (await send(b, channel, "opening")).id;
    expect(await eventually(async () => before.ids.length, 1)).toBe(1);
    log.length = 0;
    const [joined, resumed, ahead] = [new Recorder(), new Recorder(), new Recorder()];
    // A listener after the hub's on its pub/sub connection: called in the task that hands the hub the
    // first burst, so what it starts joins (in that task's microtasks) while the run is still unsent.
    let announced = 0;
    await subscriber.sSubscribe(channelKeys("edge-sse", channel).stream.changes, (notice) => {
      const text = appendedText(notice);
      if (text === undefined || ++announced !== 5) return;
      const last = decodeStored(text).id;
      log.push("joining");
      void follows(b, channel, joined);
      // It holds the run already (from another process, say): it gets none of it again.
      void follows(b, channel, resumed, last);
      // It holds up to an id not yet announced here (its process's pub/sub was quicker): it gets only what follows.
      void follows(b, channel, ahead, last + 2);
    });
    const first = await burst(b, channel, 5);
    const second = await burst(b, channel, 5);
    expect(await eventually(async () => before.ids.length, 11)).toBe(11);
    expect(log.slice(0, 2)).toEqual(["joining", "take"]);
    expect(before.takes).toEqual([[opening], first, second]);
    expect(joined.ids).toEqual(second);
    expect(resumed.ids).toEqual(second);
    expect(ahead.ids).toEqual(second.slice(2));
    for (const recorder of [before, joined, resumed, ahead]) expect(recorder.notices).toEqual([]);
  });
});
