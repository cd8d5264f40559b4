/**
 * The channel's Durable Objects inside workerd (vitest's miniflare, with SHARD_SUBSCRIBERS=10,
 * MAX_STREAMS_PER_CLIENT=15 and HISTORY_LIMIT=100 from vitest.config.mts): subscribers are hibernatable WebSockets, the
 * object sleeps between publishes, survives a restart without ending any stream, and a channel
 * spreads over shards with every message reaching every subscriber once, in order.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { shardName } from "../../src/hub/durable-object/protocol.ts";
import { ShardLoad } from "../../src/hub/durable-object/shard-load.ts";
import { eventually, readEvents, type SseReader } from "../support/sse-reader.ts";

const BASE = "http://edge-sse.test";
const fetchApp = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`${BASE}${path}`, init));
const SHARD_SUBSCRIBERS = 10;

let channels = 0;
const newChannel = () => {
  const name = `objects-${++channels}-${Date.now()}`;
  return { name, path: `/api/channels/${name}/messages` };
};

async function post(path: string, text: string): Promise<number> {
  const response = await fetchApp(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

const stats = async (path: string) =>
  (await (await fetchApp(`${path}/stats`)).json()) as { subscribers: number; catchingUp: number };

/** Opens `count` streams; `total`: the channel's subscribers then (by default, these). */
async function subscribe(
  path: string,
  count: number,
  headers: Record<string, string> = {},
  total = count,
): Promise<SseReader[]> {
  const readers: SseReader[] = [];
  for (let i = 0; i < count; i++) {
    const reader = readEvents(await fetchApp(`${path}/stream`, { headers }));
    await reader.opened();
    readers.push(reader);
  }
  expect(await eventually(async () => (await stats(path)).subscribers, total)).toBe(total);
  return readers;
}

/** The next `count` event ids a reader gets (one at a time: workerd caps a test's pending timers). */
async function idsOf(reader: SseReader, count: number): Promise<number[]> {
  const ids: number[] = [];
  try {
    for (let i = 0; i < count; i++) ids.push(Number((await reader.next()).id));
  } catch (error) {
    throw new Error(`${(error as Error).message} after ${ids.length} events, the last ${ids.slice(-3).join(", ")}`);
  }
  return ids;
}

/**
 * Cancels the readers and waits until the channel has forgotten them: workerd notices a departure
 * only at the stream's next write (one more message here), and until then the Worker requests stay
 * open, and the test's own open connections, which workerd limits, with them.
 */
async function leave(path: string, readers: SseReader[]): Promise<void> {
  for (const reader of readers) await reader.cancel();
  await post(path, "wakes the departed streams");
  expect(await eventually(async () => (await stats(path)).subscribers, 0)).toBe(0);
}

const channelObject = (name: string) => env.CHANNELS.get(env.CHANNELS.idFromName(name));
const shardObject = (name: string, shard: number) =>
  env.CHANNEL_SHARDS.get(env.CHANNEL_SHARDS.idFromName(shardName(env.CHANNELS.idFromName(name).toString(), shard)));
const socketsOn = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_instance, state) => state.getWebSockets().length);

/** Reads until the event with id `last`: the ids seen, the first being wherever the reader joined. */
async function idsUntil(reader: SseReader, last: number): Promise<number[]> {
  const ids: number[] = [];
  while (ids.at(-1) !== last) {
    const event = await reader.next();
    if (event.id) ids.push(Number(event.id));
  }
  return ids;
}

/**
 * Counts the calls of the channel object's `history` (the RPC a replaying subscriber makes) while
 * `run` runs, by wrapping the method on the class every instance of this isolate shares.
 */
async function historyCalls(name: string, run: () => Promise<void>): Promise<number> {
  const prototype = await runInDurableObject(channelObject(name), (instance) => Object.getPrototypeOf(instance));
  const history = prototype.history;
  let calls = 0;
  prototype.history = function (this: unknown, ...args: unknown[]) {
    calls++;
    return history.apply(this, args);
  };
  try {
    await run();
  } finally {
    prototype.history = history;
  }
  return calls;
}

describe("the channel's objects in workerd", () => {
  it("hold subscribers as hibernatable WebSockets and sleep between publishes, holding no request", async () => {
    const { name, path } = newChannel();
    const readers = await subscribe(path, 3);
    const root = channelObject(name);
    expect(await socketsOn(root)).toBe(3);
    const instances = new WeakSet<object>();
    await runInDurableObject(root, (instance) => {
      instances.add(instance);
    });
    // workerd evicts an object after about 10 s without events, unless a request is still open
    // on it (as an SSE response held by the object would be). Nothing here touches the object
    // meanwhile; the Worker keeps writing its own keep-alive comments to the clients.
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const id = await post(path, "after a nap");
    const woken = await runInDurableObject(root, (instance) => !instances.has(instance));
    expect(woken, "the object was still the same instance: something kept it awake").toBe(true);
    for (const reader of readers) expect(Number((await reader.next()).id)).toBe(id);
    await leave(path, readers);
  }, 40_000);

  it("reaches every subscriber, without ending a stream, after the objects restart; history is intact", async () => {
    const { name, path } = newChannel();
    // Two shards' worth: some subscribers on the channel's object, the others on a shard.
    const readers = await subscribe(path, SHARD_SUBSCRIBERS + 5);
    const before = [await post(path, "before 1"), await post(path, "before 2")];
    for (const reader of readers) expect(await idsOf(reader, 2)).toEqual(before);

    await abortAllDurableObjects();
    const after = [await post(path, "after 1"), await post(path, "after 2")];
    expect(after[0]).toBe((before[1] as number) + 1);
    for (const reader of readers) expect(await idsOf(reader, 2)).toEqual(after);
    const listed = (await (await fetchApp(path)).json()) as { messages: { id: number }[] };
    expect(listed.messages.map((message) => message.id)).toEqual([...before, ...after]);
    expect(await eventually(async () => (await stats(path)).subscribers, readers.length)).toBe(readers.length);
    expect(await socketsOn(channelObject(name))).toBe(SHARD_SUBSCRIBERS);
    await leave(path, readers);
  }, 60_000);

  it("spreads 50 subscribers over shards, each getting all of 200 concurrent publishes once, in order", async () => {
    const { name, path } = newChannel();
    const readers = await subscribe(path, 50);
    expect(await socketsOn(channelObject(name))).toBe(SHARD_SUBSCRIBERS);
    for (let shard = 1; shard <= 4; shard++) expect(await socketsOn(shardObject(name, shard))).toBe(SHARD_SUBSCRIBERS);

    const created = (await Promise.all(Array.from({ length: 200 }, (_, i) => post(path, `message ${i}`)))).sort(
      (a, b) => a - b,
    );
    expect(created).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const received = await Promise.all(readers.map((reader) => idsOf(reader, 200)));
    for (const ids of received) expect(ids).toEqual(created);
    for (const reader of readers) await expect(reader.next(200)).rejects.toThrow(/no event/);

    for (const reader of readers.splice(0, 25)) await reader.cancel();
    // Each departure is noticed at the stream's next write; one more message is that write.
    await post(path, "wakes the departed streams");
    expect(await eventually(async () => (await stats(path)).subscribers, 25)).toBe(25);
    await leave(path, readers);
  }, 120_000);

  it("places subscribers on a shard with no history call when they missed nothing; a resuming one replays", async () => {
    const { name, path } = newChannel();
    const old = [await post(path, "old 1"), await post(path, "old 2"), await post(path, "old 3")];
    const first = await subscribe(path, SHARD_SUBSCRIBERS);
    let placed: SseReader[] = [];
    let resuming: SseReader | undefined;
    const calls = await historyCalls(name, async () => {
      placed = await subscribe(path, 5, {}, SHARD_SUBSCRIBERS + 5);
      expect(await socketsOn(shardObject(name, 1))).toBe(5);
    });
    expect(calls, "subscribers placed on a shard that delivered nothing newer read history").toBe(0);
    const replays = await historyCalls(name, async () => {
      resuming = readEvents(await fetchApp(`${path}/stream`, { headers: { "last-event-id": "1" } }));
      expect(await idsOf(resuming, 2)).toEqual(old.slice(1));
    });
    expect(replays).toBeGreaterThan(0);
    const sent = [await post(path, "new 1"), await post(path, "new 2"), await post(path, "new 3")];
    for (const reader of [...first, ...placed, resuming as SseReader]) expect(await idsOf(reader, 3)).toEqual(sent);
    for (const reader of placed) await expect(reader.next(200)).rejects.toThrow(/no event/);
    await leave(path, [...first, ...placed, resuming as SseReader]);
  }, 60_000);

  it("gives subscribers placed on shards while messages are published every later message once, in order", async () => {
    const { path } = newChannel();
    const first = await subscribe(path, SHARD_SUBSCRIBERS);
    // A new channel: the 100 published below and the last one are ids 1 to 101. Every reader reads
    // from the start (a client that does not read is dropped as stalled).
    const last = 101;
    const reading = first.map((reader) => idsUntil(reader, last));
    const joining: SseReader[] = [];
    const opening = (async () => {
      for (let i = 0; i < 20; i++) {
        const reader = readEvents(await fetchApp(`${path}/stream`));
        await reader.opened();
        joining.push(reader);
        reading.push(idsUntil(reader, last));
      }
    })();
    // Five publishers at a time (see the replay test below), while the twenty join.
    await Promise.all(
      Array.from({ length: 5 }, async (_, p) => {
        for (let i = 0; i < 20; i++) await post(path, `during ${p}.${i}`);
      }),
    );
    await opening;
    expect(await post(path, "the last")).toBe(last);
    const received = await Promise.all(reading);
    for (const ids of received.slice(0, first.length))
      expect(ids).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    for (const ids of received.slice(first.length)) {
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => (ids[0] as number) + i));
    }
    expect(await eventually(async () => (await stats(path)).catchingUp, 0)).toBe(0);
    await leave(path, [...first, ...joining]);
  }, 120_000);

  it("keeps sending to a shard whose report of no subscribers crossed a subscriber placed there", async () => {
    const { name } = newChannel();
    await runInDurableObject(channelObject(name), (_instance, state) => {
      const load = new ShardLoad(state.storage.sql);
      expect(load.reserve(SHARD_SUBSCRIBERS, "192.0.2.10")).toBe(1);
      // The shard's last subscriber left before the placed one joined: it reports none.
      load.report(1, 0, { "192.0.2.10": 0 }, false, 0);
      expect(load.activeShards()).toEqual([1]);
      expect(load.total()).toBe(1);
      // The placed one joined and is reported: counted once.
      load.report(1, 1, { "192.0.2.10": 1 }, false, 1);
      expect(load.total()).toBe(1);
      load.report(1, 0, { "192.0.2.10": 0 }, false, 0);
      expect(load.activeShards()).toEqual([]);
      expect(load.total()).toBe(0);
    });
  });

  it("caps streams per client over the whole channel, shards included", async () => {
    const { path } = newChannel();
    const client = { "cf-connecting-ip": "192.0.2.7" };
    const readers = await subscribe(path, 15, client);
    const refused = await fetchApp(`${path}/stream`, { headers: client });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: { code: "too_many_client_streams", message: expect.any(String) } });
    const other = readEvents(await fetchApp(`${path}/stream`, { headers: { "cf-connecting-ip": "192.0.2.8" } }));
    await other.opened();
    await leave(path, [...readers, other]);
  }, 30_000);

  it("forgets shard subscribers that a restart took away, though their counts were stored", async () => {
    const { name, path } = newChannel();
    const client = { "cf-connecting-ip": "192.0.2.9" };
    // What a channel's storage holds after `wrangler dev` restarts over its persisted state (or a
    // shard's last report was lost): shard 1 counted 15 subscribers of this client, whose sockets
    // are gone. MAX_STREAMS_PER_CLIENT is 15.
    const root = channelObject(name);
    await runInDurableObject(root, (_instance, state) => {
      state.storage.sql.exec("INSERT INTO shard_load (shard, subscribers) VALUES (1, 15)");
      state.storage.sql.exec("INSERT INTO shard_clients (shard, client, subscribers) VALUES (1, '192.0.2.9', 15)");
    });
    await abortAllDurableObjects(); // the restart: the next call meets a fresh instance

    const readers = await subscribe(path, 3, client);
    // A stub of before the abort would only say so: a new one.
    const rows = await runInDurableObject(channelObject(name), (_instance, state) =>
      state.storage.sql.exec("SELECT shard, subscribers FROM shard_load ORDER BY shard").toArray(),
    );
    expect(rows).toEqual([{ shard: 1, subscribers: 0 }]);
    expect((await stats(path)).subscribers).toBe(3);
    await leave(path, readers);
  }, 30_000);

  it("counts a replaying subscriber as catching up until it has caught up", async () => {
    const { path } = newChannel();
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await post(path, `history ${i}`));
    const reader = readEvents(await fetchApp(`${path}/stream`, { headers: { "last-event-id": "0" } }));
    expect(await idsOf(reader, 5)).toEqual(sent);
    expect(await eventually(async () => (await stats(path)).catchingUp, 0)).toBe(0);
    expect((await stats(path)).subscribers).toBe(1);
    await leave(path, [reader]);
  }, 30_000);

  it("replays history while 50 more are published, then goes live: every id once, in order", async () => {
    const { path } = newChannel();
    for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => post(path, `old ${i}.${j}`)));
    const reader = readEvents(await fetchApp(`${path}/stream`, { headers: { "last-event-id": "0" } }));
    // Five publishers at a time: a test's own connections are limited in workerd, and fifty
    // queued at once starve the reader's. All 100 fit in the history (HISTORY_LIMIT 100).
    const publishing = Promise.all(
      Array.from({ length: 5 }, async (_, p) => {
        for (let i = 0; i < 10; i++) await post(path, `during ${p}.${i}`);
      }),
    );
    const ids = await idsOf(reader, 100);
    await publishing;
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const live = await post(path, "live");
    expect(Number((await reader.next()).id)).toBe(live);
    await leave(path, [reader]);
  }, 60_000);

  it("sends history-truncated before replaying from the oldest retained message (HISTORY_LIMIT 100)", async () => {
    const { path } = newChannel();
    for (let i = 0; i < 103; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, 103 - i) }, (_, j) => post(path, `m ${i + j}`)));
    }
    const reader = readEvents(await fetchApp(`${path}/stream`, { headers: { "last-event-id": "1" } }));
    const notice = await reader.next();
    expect(notice.event).toBe("history-truncated");
    expect(JSON.parse(notice.data)).toEqual({ lastEventId: 1, oldestId: 4 });
    expect(await idsOf(reader, 100)).toEqual(Array.from({ length: 100 }, (_, i) => i + 4));
    await leave(path, [reader]);
  }, 120_000);
});
