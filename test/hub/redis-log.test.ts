/**
 * The Redis log against a real redis-server. Two logs on one Redis stand for two processes: each has
 * its own two connections, exactly as two servers would, so their races are the real ones.
 */
import { EventEmitter } from "node:events";
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import type { AppendRequest, CreateRequest, LogChange } from "../../src/hub/log.ts";
import { RedisLog } from "../../src/hub/redis/redis-log.ts";
import { streamKeys } from "../../src/hub/redis/stream-keys.ts";
import { eventually } from "../support/sse-reader.ts";
import { useRedis } from "../support/test-redis.ts";

const redis = useRedis();

async function log(): Promise<RedisLog> {
  return (await redis.backend()).log;
}

const LIMITS = { limits: { maxBytes: 0, maxEntries: 0 }, timeoutMs: 10_000 };

let streamCount = 0;
const freshName = () => `s${++streamCount}/${Date.now()}`;
const utf8 = new TextEncoder();

const creation = (overrides: Partial<CreateRequest> = {}): CreateRequest => ({
  contentType: "application/octet-stream",
  ttlSeconds: null,
  expiresAt: null,
  closed: false,
  entries: [],
  fork: null,
  ...overrides,
});

const appending = (text: string, overrides: Partial<AppendRequest> = {}): AppendRequest => ({
  entries: [utf8.encode(text)],
  contentType: "application/octet-stream",
  close: false,
  streamSeq: undefined,
  producer: undefined,
  ...overrides,
});

async function texts(on: RedisLog, name: string): Promise<string[]> {
  const read = await on.read(name, 0, Number.MAX_SAFE_INTEGER);
  if (read.kind !== "found") throw new Error(`read: ${read.kind}`);
  return read.entries.map((entry) => new TextDecoder().decode(entry));
}

/**
 * A log whose commands are counted (each command's name in `sent`), on a connection of its own, with
 * no pub/sub; `client` is that connection, for the test to send its own commands and close.
 */
async function countingLog() {
  const client = createClient({ url: redis.url });
  await client.connect();
  const sent: string[] = [];
  const commands = {
    sendCommand: (args: (string | Buffer)[], options: Parameters<typeof client.sendCommand>[1]) => {
      sent.push(String(args[0]));
      return client.sendCommand(args, options);
    },
  };
  const subscriber = Object.assign(new EventEmitter(), {
    isReady: true,
    sSubscribe: async () => {},
    sUnsubscribe: async () => {},
  });
  const on = new RedisLog({ commands, subscriber, limits: { maxBytes: 0, maxEntries: 0 }, timeoutMs: 2_000 });
  return { on, sent, client };
}

/** What a test holds back while it wants, then lets go of in order. */
function heldBack() {
  let holding = false;
  const held: Array<() => void> = [];
  return {
    /** Runs `then` now, or once released if holding. */
    pass(then: () => void): void {
      if (holding) held.push(then);
      else then();
    },
    hold: () => {
      holding = true;
    },
    /** Lets go of what was held, in order, before it returns. */
    release: () => {
      holding = false;
      for (const then of held.splice(0)) then();
    },
    held: () => held.length,
  };
}

/**
 * A real pub/sub connection whose notices the test holds back while it wants: a pub/sub slower than
 * the test's commands, which a loaded machine or a busy Redis can be.
 */
async function heldSubscriber() {
  const client = createClient({ url: redis.url });
  await client.connect();
  const gate = heldBack();
  const delivering = new Map<(notice: Buffer) => void, (notice: Buffer) => void>();
  const subscriber = {
    get isReady() {
      return client.isReady;
    },
    on: (event: "ready" | "end" | "error", listener: () => void) => client.on(event, listener),
    sSubscribe(channel: string, listener: (notice: Buffer) => void, bufferMode: true) {
      const deliver = (notice: Buffer) => gate.pass(() => listener(notice));
      delivering.set(listener, deliver);
      return client.sSubscribe(channel, deliver, bufferMode);
    },
    sUnsubscribe(channel: string, listener: (notice: Buffer) => void, bufferMode: true) {
      return client.sUnsubscribe(channel, delivering.get(listener) ?? listener, bufferMode);
    },
  };
  const { hold, release, held } = gate;
  return { subscriber, hold, release, held, destroy: () => client.destroy() };
}

/**
 * A command connection whose answers to writes the test holds back while it wants: Redis has applied
 * the write, and the answer is late (two connections: the notice may come first).
 */
async function heldCommands() {
  const client = createClient({ url: redis.url });
  await client.connect();
  const gate = heldBack();
  const { hold, release, held } = gate;
  return {
    commands: {
      sendCommand: async (args: (string | Buffer)[], options: Parameters<typeof client.sendCommand>[1]) => {
        const reply = await client.sendCommand(args, options);
        // Only the write's: the append reads the record first.
        if (String(args[0]).startsWith("EVAL")) await new Promise<void>((resolve) => gate.pass(resolve));
        return reply;
      },
    },
    hold,
    release,
    held,
    destroy: () => client.destroy(),
  };
}

/** The appends among `changes`, as position: text. */
function appendsTold(changes: LogChange[]): string[] {
  return changes.flatMap((change) =>
    change.kind === "appended"
      ? change.entries.map((entry, i) => `${change.from + i}: ${new TextDecoder().decode(entry)}`)
      : [],
  );
}

describe("RedisLog", () => {
  it("loses no append when two processes append to one stream at once", async () => {
    const [a, b] = await Promise.all([log(), log()]);
    const name = freshName();
    expect((await a.create(name, creation())).kind).toBe("created");
    await Promise.all(
      [a, b].flatMap((on, p) => Array.from({ length: 100 }, (_, i) => on.append(name, appending(`${p}:${i}`)))),
    );
    const stored = await texts(b, name);
    expect(stored).toHaveLength(200);
    expect(new Set(stored).size).toBe(200);
    // Each process's appends were decided one after another: they are in its order.
    for (const p of [0, 1]) {
      expect(stored.filter((text) => text.startsWith(`${p}:`))).toEqual(
        Array.from({ length: 100 }, (_, i) => `${p}:${i}`),
      );
    }
  });

  it("stores a producer's request once when its retry reaches another process at the same moment", async () => {
    const [a, b] = await Promise.all([log(), log()]);
    const name = freshName();
    await a.create(name, creation());
    for (let seq = 0; seq < 20; seq++) {
      const request = appending(`seq ${seq}`, { producer: { id: "p", epoch: 0, seq } });
      const answers = await Promise.all([a.append(name, request), b.append(name, request)]);
      expect(answers.map((answer) => answer.kind)).toEqual(["appended", "appended"]);
      // One stored it; the other was answered as its duplicate.
      expect(answers.filter((answer) => answer.kind === "appended" && answer.stored)).toHaveLength(1);
    }
    expect(await texts(a, name)).toEqual(Array.from({ length: 20 }, (_, seq) => `seq ${seq}`));
  });

  it("keeps every byte value of binary entries", async () => {
    const on = await log();
    const name = freshName();
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await on.create(name, creation({ entries: [bytes] }));
    await on.append(name, { ...appending(""), entries: [bytes.slice().reverse()] });
    const read = await on.read(name, 0, 1 << 20);
    expect(read.kind === "found" && read.entries.map((entry) => [...entry])).toEqual([
      [...bytes],
      [...bytes].reverse(),
    ]);
  });

  it("tells a watcher in another process what was appended, created and deleted", async () => {
    const [a, b] = await Promise.all([log(), log()]);
    const name = freshName();
    const changes: LogChange[] = [];
    const unwatch = b.watch(name, (change) => changes.push(change));
    // The subscription is in place once it has told its watcher the state (there is no stream yet).
    expect(await eventually(async () => changes.length > 0, true)).toBe(true);
    changes.length = 0;
    await a.create(name, creation({ entries: [utf8.encode("one")] }));
    await a.append(name, appending("two"));
    await a.delete(name);
    expect(await eventually(async () => changes.length, 3)).toBe(3);
    expect(changes[0]).toMatchObject({ kind: "created", record: { tail: 1 } });
    expect(changes[1]).toMatchObject({ kind: "appended", from: 1, entries: [utf8.encode("two")], record: { tail: 2 } });
    expect(changes[2]).toEqual({ kind: "deleted" });
    unwatch();
  });

  it("tells a watcher of the ends only a stream's close and deletion, from any process, none of its appends", async () => {
    const [a, b] = await Promise.all([log(), log()]);
    const name = freshName();
    await a.create(name, creation());
    const here: LogChange[] = [];
    const there: LogChange[] = [];
    const unwatchHere = a.watch(name, (change) => here.push(change), "ends");
    const unwatchThere = b.watch(name, (change) => there.push(change), "ends");
    // Each subscription is in place once it has told its watcher the stream as it is.
    expect(await eventually(async () => here.length > 0 && there.length > 0, true)).toBe(true);
    here.length = 0;
    there.length = 0;
    for (const text of ["one", "two", "three"]) await a.append(name, appending(text));
    await b.append(name, appending("four"));
    await b.append(name, appending("", { entries: [], close: true }));
    expect(await eventually(async () => here.length > 0 && there.length > 0, true)).toBe(true);
    // The close, as its first news, in the process that closed it and in the one that appended.
    for (const told of [here, there]) {
      expect(told[0]).toMatchObject({ kind: "appended", entries: [], record: { closed: true, tail: 4 } });
    }
    await a.delete(name);
    expect(await eventually(async () => here.length === 2 && there.length === 2, true)).toBe(true);
    expect([here[1], there[1]]).toEqual([{ kind: "deleted" }, { kind: "deleted" }]);
    unwatchHere();
    unwatchThere();
  });

  it("gives a stream with a TTL a Redis expiry, so that its memory is freed if nobody asks for it again", async () => {
    const on = await log();
    const name = freshName();
    await on.create(name, creation({ ttlSeconds: 60, entries: [utf8.encode("x")] }));
    const keys = streamKeys("edge-sse", name);
    for (const key of [keys.record, keys.entries]) {
      const left = Number(await redis.command("PTTL", key));
      expect(left).toBeGreaterThan(50_000);
      expect(left).toBeLessThanOrEqual(65_000);
    }
    // A stream without one keeps its keys until it is deleted, and then leaves none.
    const lasting = freshName();
    await on.create(lasting, creation({ entries: [utf8.encode("x")] }));
    const lastingKeys = streamKeys("edge-sse", lasting);
    expect(await redis.command("PTTL", lastingKeys.record)).toBe(-1);
    await on.delete(lasting);
    expect(await redis.command("EXISTS", lastingKeys.record, lastingKeys.entries, lastingKeys.forks)).toBe(0);
  });

  it("moves a sliding TTL's Redis expiry on an append only once it is a second behind the record's", async () => {
    let now = Date.now();
    const [commands, subscriber] = [createClient({ url: redis.url }), createClient({ url: redis.url })];
    await Promise.all([commands.connect(), subscriber.connect()]);
    const on = new RedisLog({ commands, subscriber, ...LIMITS, clock: () => now });
    const name = freshName();
    await on.create(name, creation({ ttlSeconds: 60 }));
    const keys = streamKeys("edge-sse", name);
    const expiries = async () =>
      Promise.all([keys.record, keys.entries].map(async (key) => Number(await redis.command("PEXPIRETIME", key))));
    await on.append(name, appending("a"));
    const set = now + 65_000;
    expect(await expiries()).toEqual([set, set]);
    now += 500;
    await on.append(name, appending("b"));
    expect(await expiries()).toEqual([set, set]);
    now += 500;
    await on.append(name, appending("c"));
    expect(await expiries()).toEqual([set + 1_000, set + 1_000]);
    expect(await texts(on, name)).toEqual(["a", "b", "c"]);
    on.close();
    commands.destroy();
    subscriber.destroy();
  });

  it("copies a fork's entries, keeps a deleted source's name taken while the fork lives, and frees it with the fork", async () => {
    const on = await log();
    const source = freshName();
    const fork = freshName();
    await on.create(source, creation({ entries: [utf8.encode("a"), utf8.encode("b")] }));
    const forked = await on.create(fork, creation({ fork: { from: source, position: 1, subOffset: 0 } }));
    expect(forked.kind).toBe("created");
    await on.append(fork, appending("c"));
    expect(await on.delete(source)).toBe("deleted");
    expect((await on.head(source)).kind).toBe("gone");
    expect((await on.create(source, creation())).kind).toBe("conflict");
    expect(await texts(on, fork)).toEqual(["a", "c"]);
    expect(await on.delete(fork)).toBe("deleted");
    expect((await on.head(source)).kind).toBe("not-found");
    const keys = streamKeys("edge-sse", source);
    expect(await redis.command("EXISTS", keys.record, keys.entries, keys.forks)).toBe(0);
  });

  it("tells watchers `deleted` when the pub/sub connection is lost, and the stream as it is once it is back", async () => {
    // A pub/sub connection the test loses and restores when it wants: what it misses in between is
    // exactly what a real one misses while it reconnects (a few ms, measured here: too short to aim at).
    const subscriber = Object.assign(new EventEmitter(), {
      isReady: true,
      sSubscribe: async () => {},
      sUnsubscribe: async () => {},
    });
    const commands = createClient({ url: redis.url });
    await commands.connect();
    const on = new RedisLog({ commands, subscriber, limits: { maxBytes: 0, maxEntries: 0 }, timeoutMs: 2_000 });
    const writer = await log();
    const name = freshName();
    await writer.create(name, creation());
    const changes: LogChange[] = [];
    on.watch(name, (change) => changes.push(change));
    // Subscribed: told the stream as it is.
    expect(await eventually(async () => changes.length, 1)).toBe(1);
    expect(changes[0]).toMatchObject({ kind: "appended", from: 0, entries: [], record: { tail: 0 } });
    subscriber.emit("error", new Error("Socket closed unexpectedly"));
    expect(changes[1]).toEqual({ kind: "deleted" });
    await writer.append(name, appending("missed"));
    subscriber.emit("ready");
    expect(await eventually(async () => changes.length, 3)).toBe(3);
    expect(changes[2]).toMatchObject({ kind: "appended", from: 1, entries: [], record: { tail: 1 } });
    on.close();
    commands.destroy();
  });

  it("tells a watcher in the appending process of its append once Redis has it, before the pub/sub notice, and only once", async () => {
    const pubsub = await heldSubscriber();
    const client = createClient({ url: redis.url });
    await client.connect();
    const on = new RedisLog({ commands: client, subscriber: pubsub.subscriber, ...LIMITS });
    const name = freshName();
    await on.create(name, creation());
    const changes: LogChange[] = [];
    on.watch(name, (change) => changes.push(change));
    // Subscribed: told the stream as it is.
    expect(await eventually(async () => changes.length, 1)).toBe(1);
    pubsub.hold();
    await on.append(name, appending("a"));
    // Told by the time the append is answered, with no notice let through.
    expect(changes.slice(1)).toMatchObject([
      { kind: "appended", from: 0, entries: [utf8.encode("a")], record: { tail: 1 } },
    ]);
    // Its notice comes, and tells nothing more.
    expect(await eventually(async () => pubsub.held(), 1)).toBe(1);
    pubsub.release();
    expect(changes).toHaveLength(2);
    on.close();
    client.destroy();
    pubsub.destroy();
  });

  it("tells an append once when its pub/sub notice comes before Redis's answer to the write", async () => {
    const replies = await heldCommands();
    const subscriber = createClient({ url: redis.url });
    await subscriber.connect();
    const on = new RedisLog({ commands: replies.commands, subscriber, ...LIMITS });
    const name = freshName();
    await on.create(name, creation());
    const changes: LogChange[] = [];
    on.watch(name, (change) => changes.push(change));
    expect(await eventually(async () => changes.length, 1)).toBe(1);
    replies.hold();
    const appended = on.append(name, appending("a"));
    // Told by the notice while the write's answer is held back.
    expect(await eventually(async () => changes.length, 2)).toBe(2);
    expect(replies.held()).toBe(1);
    replies.release();
    expect((await appended).kind).toBe("appended");
    expect(appendsTold(changes)).toEqual(["0: a"]);
    on.close();
    replies.destroy();
    subscriber.destroy();
  });

  it("tells each append once, in each process, while two processes append to one stream at once", async () => {
    const [a, b, last] = await Promise.all([log(), log(), log()]);
    const name = freshName();
    await a.create(name, creation());
    const told = new Map<RedisLog, LogChange[]>([
      [a, []],
      [b, []],
    ]);
    for (const [on, changes] of told) on.watch(name, (change) => changes.push(change));
    for (const changes of told.values()) expect(await eventually(async () => changes.length > 0, true)).toBe(true);
    await Promise.all(
      [a, b].flatMap((on, p) => Array.from({ length: 50 }, (_, i) => on.append(name, appending(`${p}:${i}`)))),
    );
    // From a third process: once a process has heard it over pub/sub, it has heard every notice
    // before it (Redis sends a channel's notices in order), so any told twice would be there.
    await last.append(name, appending("end"));
    const stored = (await texts(a, name)).map((text, position) => `${position}: ${text}`);
    expect(stored).toHaveLength(101);
    for (const changes of told.values()) {
      expect(await eventually(async () => appendsTold(changes).includes("100: end"), true)).toBe(true);
      expect(appendsTold(changes).sort()).toEqual([...stored].sort());
    }
  });

  it("tells an append of a stream deleted and created again here only after the notices of both", async () => {
    const pubsub = await heldSubscriber();
    const client = createClient({ url: redis.url });
    await client.connect();
    const on = new RedisLog({ commands: client, subscriber: pubsub.subscriber, ...LIMITS });
    const name = freshName();
    await on.create(name, creation({ entries: [utf8.encode("old")] }));
    const changes: LogChange[] = [];
    on.watch(name, (change) => changes.push(change));
    expect(await eventually(async () => changes.length, 1)).toBe(1);
    pubsub.hold();
    await on.delete(name);
    await on.create(name, creation());
    await on.append(name, appending("new"));
    // Its watchers know the stream as it was: the append waits for its notice, after the others.
    expect(changes).toHaveLength(1);
    expect(await eventually(async () => pubsub.held(), 3)).toBe(3);
    pubsub.release();
    expect(changes.slice(1).map((change) => change.kind)).toEqual(["deleted", "created", "appended"]);
    expect(appendsTold(changes)).toEqual(["0: new"]);
    on.close();
    client.destroy();
    pubsub.destroy();
  });

  it("answers an append after its own last one in one round trip, and reads again when another process wrote between", async () => {
    const { on, sent, client } = await countingLog();
    const other = await log();
    const name = freshName();
    await on.create(name, creation());
    await on.append(name, appending("a"));
    sent.length = 0;
    await on.append(name, appending("b"));
    // The checked write alone: it was decided on the record as this log last wrote it.
    expect(sent).toEqual(["EVALSHA"]);
    await other.append(name, appending("c"));
    sent.length = 0;
    await on.append(name, appending("d", { producer: { id: "p", epoch: 0, seq: 0 } }));
    // Refused by the check (the record changed), then read and decided again.
    expect(sent).toEqual(["EVALSHA", "HMGET", "EVALSHA"]);
    // An answer other than a write comes from a read, never from what this log remembers.
    await on.append(name, appending("", { entries: [], close: true }));
    sent.length = 0;
    expect((await on.append(name, appending("e"))).kind).toBe("closed");
    expect(sent).toEqual(["HMGET"]);
    expect(await texts(other, name)).toEqual(["a", "b", "c", "d"]);
    on.close();
    client.destroy();
  });

  it("sends its scripts whole once Redis forgot them (SCRIPT FLUSH, as a restart does), and writes once", async () => {
    const { on, sent, client } = await countingLog();
    const name = freshName();
    await on.create(name, creation());
    await on.append(name, appending("a"));
    await client.sendCommand(["SCRIPT", "FLUSH"]);
    sent.length = 0;
    await on.append(name, appending("b"));
    expect(sent).toEqual(["EVALSHA", "EVAL"]);
    sent.length = 0;
    await on.append(name, appending("c"));
    expect(sent).toEqual(["EVALSHA"]);
    await client.sendCommand(["SCRIPT", "FLUSH"]);
    expect(await texts(on, name)).toEqual(["a", "b", "c"]);
    on.close();
    client.destroy();
  });

  it("frees a deleted source whose last fork Redis let expire unseen", async () => {
    const on = await log();
    const source = freshName();
    const fork = freshName();
    await on.create(source, creation({ entries: [utf8.encode("a")] }));
    await on.create(fork, creation({ fork: { from: source, position: null, subOffset: 0 } }));
    await on.delete(source);
    // As Redis's expiry does: the fork's keys go, and nobody tells the source.
    const forkKeys = streamKeys("edge-sse", fork);
    await redis.command("DEL", forkKeys.record, forkKeys.entries);
    expect((await on.head(source)).kind).toBe("not-found");
    expect((await on.create(source, creation())).kind).toBe("created");
  });
});
