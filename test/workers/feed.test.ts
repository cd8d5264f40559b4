/**
 * The live feed inside workerd: channels are Durable Objects with SQLite history.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectLog } from "../../src/hub/durable-object/index.ts";
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
import { eventually, readEvents } from "../support/sse-reader.ts";

const BASE = "http://edge-sse.test";
const fetchApp = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`${BASE}${path}`, init));

let channels = 0;
const newChannel = () => `/api/channels/test-${++channels}-${Date.now()}/messages`;

async function post(channel: string, text: string): Promise<{ id: number; text: string }> {
  const response = await fetchApp(channel, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  expect(response.status).toBe(201);
  return response.json();
}

const subscribers = async (channel: string) =>
  ((await (await fetchApp(`${channel}/stats`)).json()) as { subscribers: number }).subscribers;

describe("the feed in workerd", () => {
  it("delivers a posted message to two subscribers", async () => {
    const channel = newChannel();
    const first = readEvents(await fetchApp(`${channel}/stream`));
    const second = readEvents(await fetchApp(`${channel}/stream`));
    expect(await eventually(() => subscribers(channel), 2)).toBe(2);
    const sent = await post(channel, "to both");
    for (const reader of [first, second]) {
      const event = await reader.next();
      expect(event.id).toBe(String(sent.id));
      expect(JSON.parse(event.data)).toMatchObject({ id: sent.id, text: "to both", author: null });
    }
    await first.cancel();
    await second.cancel();
  });

  it("replays exactly the missed messages to a client that reconnects with Last-Event-ID", async () => {
    const channel = newChannel();
    const seen = await post(channel, "seen");
    const missed = [await post(channel, "missed 1"), await post(channel, "missed 2")];
    const reader = readEvents(await fetchApp(`${channel}/stream`, { headers: { "last-event-id": String(seen.id) } }));
    const replayed = [await reader.next(), await reader.next()];
    expect(replayed.map((event) => Number(event.id))).toEqual(missed.map((message) => message.id));
    const live = await post(channel, "live");
    expect(Number((await reader.next()).id)).toBe(live.id);
    await expect(reader.next(200)).rejects.toThrow(/no event/);
    await reader.cancel();
  });

  it("keeps history and the id sequence across a restart of the object", async () => {
    const channel = newChannel();
    const before = [await post(channel, "a"), await post(channel, "b")];
    await abortAllDurableObjects();
    const listed = (await (await fetchApp(channel)).json()) as { messages: { id: number; text: string }[] };
    expect(listed.messages).toEqual(before.map((message) => expect.objectContaining(message)));
    const after = await post(channel, "c");
    expect(after.id).toBeGreaterThan(before[1]!.id);
  });

  it("forgets a subscriber after its client cancels", async () => {
    const channel = newChannel();
    const reader = readEvents(await fetchApp(`${channel}/stream`));
    expect(await eventually(() => subscribers(channel), 1)).toBe(1);
    await reader.cancel();
    // The object notices at the stream's next write: a message or a keep-alive comment.
    await post(channel, "wakes the stream");
    expect(await eventually(() => subscribers(channel), 0)).toBe(0);
  });

  it("answers bad input with the JSON error shape", async () => {
    const response = await fetchApp("/api/messages", { method: "POST", body: "x" });
    expect(response.status).toBe(415);
    expect(await response.json()).toEqual({ error: { code: "unsupported_media_type", message: expect.any(String) } });
  });
});

describe("channel events in workerd (Durable Objects, SQLite)", () => {
  const app: AppFetch = (path, init) => fetchApp(path, init);
  let count = 0;
  const fresh = () => `events-${++count}-${Date.now()}`;

  it("round-trips any JSON value, named or not, through publish, stream, replay and list", async () => {
    await checkRoundTrip(app, fresh());
  });

  it.each(BAD_PUBLICATIONS.filter(([name]) => /line break|reserved|nested|Idempotency/.test(name)))(
    "rejects %s and stores nothing",
    async (...rejection) => {
      await checkRejection(app, fresh(), rejection);
    },
  );

  it("stores a publication retried with one Idempotency-Key once, sequentially and concurrently", async () => {
    await checkIdempotency([app], fresh(), 10);
  });

  it("answers a retried message with the first message, in the seed's shape", async () => {
    await checkMessageIdempotency(app, fresh());
  });

  it("remembers an idempotency key across a restart of the channel's object", async () => {
    const channel = fresh();
    const publish = () => app(`/api/channels/${channel}/events`, json({ data: 1 }, { "idempotency-key": "k" }));
    const first = await publish();
    expect(first.status).toBe(201);
    await abortAllDurableObjects();
    const retry = await publish();
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual(await first.json());
    expect((await listEvents(app, channel)).length).toBe(1);
  });

  it("migrates an object's seed-era history in place: it replays as it was, and ids continue", async () => {
    const channel = fresh();
    // An object as the previous version left it: a `messages` table of text and author, whose oldest
    // rows were trimmed (the sequence is above every row).
    const old = [
      { id: 7, text: "line\nbreak", author: "ann", createdAt: "2026-12-01T00:00:00.000Z" },
      { id: 8, text: "ünïcödé", author: null, createdAt: "2026-12-01T00:00:01.000Z" },
    ];
    const stub = env.CHANNELS.get(env.CHANNELS.idFromName(channel));
    await runInDurableObject(stub, (_instance, state) => {
      const { sql } = state.storage;
      sql.exec(`CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, author TEXT, created_at TEXT NOT NULL)`);
      for (const { id, text, author, createdAt } of old) {
        sql.exec(
          "INSERT INTO messages (id, text, author, created_at) VALUES (?, ?, ?, ?)",
          id,
          text,
          author,
          createdAt,
        );
      }
      sql.exec("UPDATE sqlite_sequence SET seq = 9 WHERE name = 'messages'");
    });
    // The next start of the object (a deploy) runs the migration.
    await abortAllDurableObjects();
    const path = `/api/channels/${channel}/messages`;
    const listed = (await (await fetchApp(path)).json()) as { messages: unknown[] };
    expect(listed.messages).toEqual(old);
    const reader = readEvents(await fetchApp(`${path}/stream`, { headers: { "last-event-id": "6" } }));
    for (const message of old) {
      const event = await reader.next();
      expect({ id: Number(event.id), data: event.data }).toEqual({ id: message.id, data: JSON.stringify(message) });
    }
    const next = await post(path, "after the deploy");
    expect(next.id).toBe(10);
    expect(Number((await reader.next()).id)).toBe(10);
    await reader.cancel();
    // The old table is gone: the next start finds nothing to migrate. (A new stub: the old one saw
    // its object reset.) The channel's stream holds the events at their ids - 1, from the oldest kept.
    await abortAllDurableObjects();
    const tables = await runInDurableObject(env.CHANNELS.get(env.CHANNELS.idFromName(channel)), (_instance, state) =>
      state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    expect(tables.map((table) => table.name)).not.toContain("messages");
    const read = await new DurableObjectLog(env).read(`channels/${channel}`, 0, 1 << 20);
    expect(read).toMatchObject({ kind: "trimmed", oldest: 6 });
    const stored = await new DurableObjectLog(env).read(`channels/${channel}`, 6, 1 << 20);
    if (stored.kind !== "found") throw new Error(`read ${stored.kind}`);
    expect(stored.entries.map((entry) => JSON.parse(new TextDecoder().decode(entry)).id)).toEqual([7, 8, 10]);
    expect({ head: stored.record.head, tail: stored.record.tail, next: stored.next }).toEqual({
      head: 6,
      tail: 10,
      next: 10,
    });
  });

  it("migrates an object's messages table into the channel's stream: Last-Event-ID, keys and ids go on", async () => {
    const channel = fresh();
    // An object as the previous version left it: events in a `messages` table (the oldest trimmed,
    // and the newest too, so that the sequence is above every row), a key in `idempotency_keys`.
    const old = [
      { id: 41, event: "order", data: '{"id":41,"total":1.5}', createdAt: "2026-12-05T00:00:00.000Z" },
      { id: 42, event: null, data: '"plain"', createdAt: "2026-12-05T00:00:01.000Z" },
      { id: 43, event: "order", data: "[1,2,3]", createdAt: "2026-12-05T00:00:02.000Z" },
    ];
    await runInDurableObject(env.CHANNELS.get(env.CHANNELS.idFromName(channel)), (_instance, state) => {
      const { sql } = state.storage;
      sql.exec(`CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT, data TEXT NOT NULL, created_at TEXT NOT NULL)`);
      sql.exec(`CREATE TABLE idempotency_keys (key TEXT PRIMARY KEY, id INTEGER NOT NULL, event TEXT,
        data TEXT NOT NULL, created_at TEXT NOT NULL, expires_at INTEGER NOT NULL)`);
      for (const { id, event, data, createdAt } of old) {
        sql.exec("INSERT INTO messages (id, event, data, created_at) VALUES (?, ?, ?, ?)", id, event, data, createdAt);
      }
      const { id, event, data, createdAt } = old[1] as (typeof old)[number];
      const expiresAt = Date.now() + 3_600_000;
      // Kept as the route keeps it: `<token subject>/<key>`, no subject without authorization.
      sql.exec(
        "INSERT INTO idempotency_keys VALUES (?, ?, ?, ?, ?, ?)",
        "/k-42",
        id,
        event,
        data,
        createdAt,
        expiresAt,
      );
      sql.exec("UPDATE sqlite_sequence SET seq = 44 WHERE name = 'messages'");
    });
    await abortAllDurableObjects();

    // A client that had seen 41 resumes with exactly what followed it, then live from 45 on.
    const path = `/api/channels/${channel}/events`;
    const reader = readEvents(await fetchApp(`${path}/stream`, { headers: { "last-event-id": "41" } }));
    const received = [];
    for (let i = 0; i < 2; i++) {
      const { id, event, data } = await reader.next();
      received.push({ id: Number(id), event: event ?? null, data });
    }
    expect(received).toEqual(old.slice(1).map(({ id, event, data }) => ({ id, event, data })));
    const retried = await app(path, json({ data: "another" }, { "idempotency-key": "k-42" }));
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ id: 42, event: null, createdAt: old[1]?.createdAt });
    const next = await app(path, json({ data: "after the deploy" }));
    expect(next.status).toBe(201);
    expect(await next.json()).toMatchObject({ id: 45 });
    expect(await reader.next()).toMatchObject({ id: "45", data: '"after the deploy"' });
    await expect(reader.next(200)).rejects.toThrow(/no event/);
    await reader.cancel();
    expect((await listEvents(app, channel)).map((event) => event.id)).toEqual([41, 42, 43, 45]);
  });
});
