/**
 * What every backend's channel must do with generic events, checked through the app's HTTP routes
 * and read back with the real SSE parser (sse-reader.ts): the same checks run on memory
 * (test/app/messages.test.ts), Redis (test/hub/redis.test.ts) and workerd (test/workers/feed.test.ts),
 * each giving its own way to reach the app. Works in Node and inside workerd.
 */
import { expect } from "vitest";
import { readEvents } from "./sse-reader.ts";

/** Reaches the app: `app.request`, a Worker's `exports.default.fetch`, or `fetch` to a server. */
export type AppFetch = (path: string, init?: RequestInit) => Promise<Response>;

/** Tricky payloads: every JSON type, unicode, line breaks and SSE syntax inside strings, nesting. */
export const JSON_VALUES: { data: unknown; event?: string }[] = [
  { data: { text: "an object", nested: { list: [1, 2.5, -3e-7, true, null] } } },
  { data: ["an", "array", { of: ["things"] }], event: "list" },
  { data: "a string with\nline breaks\r\nand a blank line\n\nand data: id: event: retry: 1" },
  { data: 42, event: "count.v2" },
  { data: null },
  { data: false, event: "flag:off" },
  { data: "ünïcödé ✓ 🚀 \u2028\u2029 \u0000 \t", event: "x_Y-9" },
  { data: {} },
  { data: [] },
  { data: "" },
];

export const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

export interface StoredEvent {
  id: number;
  event: string | null;
  data: unknown;
  createdAt: string;
}

export const listEvents = async (app: AppFetch, channel: string): Promise<StoredEvent[]> => {
  const response = await app(`/api/channels/${channel}/events?limit=1000`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { events: StoredEvent[] }).events;
};

/**
 * Publishes every value of JSON_VALUES to a fresh channel with a subscriber following it: each
 * arrives as it was sent (`event:` when named, data parsed back to an equal value, the id as SSE
 * id), a subscriber resuming from before the first is replayed the same events, and the list
 * answers them in order.
 */
export async function checkRoundTrip(app: AppFetch, channel: string): Promise<void> {
  const streamPath = `/api/channels/${channel}/events/stream`;
  const live = readEvents(await app(streamPath));
  await live.opened();
  const ids: number[] = [];
  for (const value of JSON_VALUES) {
    const response = await app(`/api/channels/${channel}/events`, json(value));
    expect(response.status).toBe(201);
    const answer = (await response.json()) as { id: number; event: string | null; createdAt: string };
    expect(answer).toEqual({ id: expect.any(Number), event: value.event ?? null, createdAt: expect.any(String) });
    ids.push(answer.id);
  }
  expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  const expected = JSON_VALUES.map((value, i) => ({
    id: String(ids[i]),
    event: value.event,
    data: value.data,
  }));
  const received = [];
  for (let i = 0; i < JSON_VALUES.length; i++) {
    const event = await live.next();
    received.push({ id: event.id, event: event.event, data: JSON.parse(event.data) });
  }
  expect(received).toEqual(expected);
  await live.cancel();

  // A replay encodes the stored events again: the same events.
  const replay = readEvents(await app(streamPath, { headers: { "last-event-id": String((ids[0] as number) - 1) } }));
  const replayed = [];
  for (let i = 0; i < JSON_VALUES.length; i++) {
    const event = await replay.next();
    replayed.push({ id: event.id, event: event.event, data: JSON.parse(event.data) });
  }
  expect(replayed).toEqual(expected);
  await replay.cancel();

  const listed = await listEvents(app, channel);
  expect(listed.map(({ id, event, data }) => ({ id: String(id), event: event ?? undefined, data }))).toEqual(expected);
  for (const event of listed) expect(new Date(event.createdAt).toISOString()).toBe(event.createdAt);
}

/** Bad publications: each answers its 4xx in the one error shape, and the channel stays empty. */
export const BAD_PUBLICATIONS: [string, RequestInit, number, string][] = [
  [
    "another content type",
    { method: "POST", headers: { "content-type": "text/plain" }, body: '{"data":1}' },
    415,
    "unsupported_media_type",
  ],
  ["invalid JSON", json('{"data":'), 400, "invalid_json"],
  ["a body that is not an object", json([1]), 400, "invalid_body"],
  ["no data", json({ event: "x" }), 400, "invalid_body"],
  ["an unknown member", json({ data: 1, name: "x" }), 400, "invalid_body"],
  ["an event name with a line break", json({ data: 1, event: "a\ndata: injected" }), 400, "invalid_body"],
  ["an event name with a space", json({ data: 1, event: "a b" }), 400, "invalid_body"],
  ["an empty event name", json({ data: 1, event: "" }), 400, "invalid_body"],
  ["an event name over 64 characters", json({ data: 1, event: "e".repeat(65) }), 400, "invalid_body"],
  ["an event name that is not a string", json({ data: 1, event: 7 }), 400, "invalid_body"],
  ["the reserved event name presence", json({ data: 1, event: "presence" }), 400, "invalid_body"],
  ["the reserved event name history-truncated", json({ data: 1, event: "history-truncated" }), 400, "invalid_body"],
  ["data nested 65 levels deep", json(`{"data":${"[".repeat(65)}${"]".repeat(65)}}`), 400, "invalid_body"],
  ["data nested 20,000 levels deep", json(`{"data":${"[".repeat(20_000)}${"]".repeat(20_000)}}`), 400, "invalid_body"],
  ["an empty Idempotency-Key", json({ data: 1 }, { "idempotency-key": "" }), 400, "invalid_idempotency_key"],
  ["an Idempotency-Key with a space", json({ data: 1 }, { "idempotency-key": "a b" }), 400, "invalid_idempotency_key"],
  [
    "an Idempotency-Key over 255 characters",
    json({ data: 1 }, { "idempotency-key": "k".repeat(256) }),
    400,
    "invalid_idempotency_key",
  ],
];

export async function checkRejection(
  app: AppFetch,
  channel: string,
  [, init, status, code]: [string, RequestInit, number, string],
): Promise<void> {
  const response = await app(`/api/channels/${channel}/events`, init);
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(await listEvents(app, channel)).toEqual([]);
}

/**
 * Publishes with one Idempotency-Key: once, then `concurrent` retries at once spread over `apps`
 * (two processes on one Redis, say), then once more after another publish. One event is stored and
 * sent; every retry answers 200 with `Idempotent-Replayed: true` and the first answer; a
 * different key stores its own.
 */
export async function checkIdempotency(apps: AppFetch[], channel: string, concurrent = 10): Promise<void> {
  const app = apps[0] as AppFetch;
  const live = readEvents(await app(`/api/channels/${channel}/events/stream`));
  await live.opened();
  const key = `order:${channel}/1`;
  const publish = (on: AppFetch, data: unknown, withKey = key) =>
    on(`/api/channels/${channel}/events`, json({ data, event: "order" }, { "idempotency-key": withKey }));

  // Concurrent first attempts: exactly one stores.
  const answers = await Promise.all(
    Array.from({ length: concurrent }, (_, i) => publish(apps[i % apps.length] as AppFetch, { attempt: i })),
  );
  const bodies = await Promise.all(answers.map((answer) => answer.json() as Promise<{ id: number }>));
  expect(answers.map((answer) => answer.status).sort()).toEqual([...Array(concurrent - 1).fill(200), 201]);
  const created = answers.findIndex((answer) => answer.status === 201);
  for (const [i, answer] of answers.entries()) {
    expect(answer.headers.get("idempotent-replayed")).toBe(i === created ? null : "true");
    expect(bodies[i]).toEqual(bodies[created]);
  }
  const first = bodies[created] as { id: number };

  // A sequential retry, after another publication, with another body: still the first answer.
  const other = await publish(app, { other: true }, `${key}-other`);
  expect(other.status).toBe(201);
  const otherId = ((await other.json()) as { id: number }).id;
  const retry = await publish(apps.at(-1) as AppFetch, { changed: "body" });
  expect(retry.status).toBe(200);
  expect(retry.headers.get("idempotent-replayed")).toBe("true");
  expect(await retry.json()).toEqual(first);

  const listed = await listEvents(app, channel);
  expect(listed.map((event) => event.id)).toEqual([first.id, otherId]);
  expect(listed[0]?.data).toEqual({ attempt: created });
  expect(Number((await live.next()).id)).toBe(first.id);
  expect(Number((await live.next()).id)).toBe(otherId);
  await expect(live.next(200)).rejects.toThrow(/no event/);
  await live.cancel();
}

/**
 * The demo route with an Idempotency-Key: a retry answers 200 with the first message, exactly as
 * it was (`{"id","text","author","createdAt"}`), and the channel holds one.
 */
export async function checkMessageIdempotency(app: AppFetch, channel: string): Promise<void> {
  const path = `/api/channels/${channel}/messages`;
  const first = await app(path, json({ text: "once", author: "ann" }, { "idempotency-key": "m-1" }));
  expect(first.status).toBe(201);
  const message = await first.text();
  const retry = await app(path, json({ text: "twice" }, { "idempotency-key": "m-1" }));
  expect(retry.status).toBe(200);
  expect(retry.headers.get("idempotent-replayed")).toBe("true");
  expect(await retry.text()).toBe(message);
  const listed = (await (await app(path)).json()) as { messages: unknown[] };
  expect(listed.messages).toEqual([JSON.parse(message)]);
  expect(Object.keys(JSON.parse(message))).toEqual(["id", "text", "author", "createdAt"]);
}
