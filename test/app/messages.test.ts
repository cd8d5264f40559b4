/**
 * The feed's HTTP API in-process (Hono's `app.request`): every bad input gets its 4xx JSON answer
 * and changes nothing. The same routes run under real servers in test/runtimes.
 */
import fc from "fast-check";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";
import { RESERVED_EVENT_NAMES } from "../../src/hub/index.ts";
import {
  type AppFetch,
  BAD_PUBLICATIONS,
  checkIdempotency,
  checkMessageIdempotency,
  checkRejection,
  checkRoundTrip,
  json,
  type StoredEvent,
} from "../support/channel-events.ts";
import { readEvents } from "../support/sse-reader.ts";

async function storedCount(app: ReturnType<typeof createApp>, channel = "default"): Promise<number> {
  const path = channel === "default" ? "/api/messages" : `/api/channels/${channel}/messages`;
  const response = await app.request(`${path}?limit=1000`);
  return ((await response.json()) as { messages: unknown[] }).messages.length;
}

describe("POST /api/messages", () => {
  it("creates a message and answers 201 with it in camelCase", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const response = await app.request("/api/messages", json({ text: "hi", author: "ann" }));
    expect(response.status).toBe(201);
    const message = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(message).sort()).toEqual(["author", "createdAt", "id", "text"]);
    expect(message).toMatchObject({ text: "hi", author: "ann" });
    expect(Number.isSafeInteger(message.id) && (message.id as number) > 0).toBe(true);
    expect(new Date(message.createdAt as string).toISOString()).toBe(message.createdAt);
  });

  it("gives ids that strictly increase within a channel, and lists messages oldest first", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const ids = [];
    for (let i = 0; i < 5; i++)
      ids.push(((await (await app.request("/api/messages", json({ text: `m${i}` }))).json()) as { id: number }).id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
    const listed = (await (await app.request(`/api/messages?after=${ids[1]}&limit=2`)).json()) as {
      messages: { id: number }[];
    };
    expect(listed.messages.map((message) => message.id)).toEqual([ids[2], ids[3]]);
  });

  it("keeps channels apart", async () => {
    const app = createApp(DEFAULT_CONFIG);
    await app.request("/api/channels/news/messages", json({ text: "x" }));
    expect(await storedCount(app, "news")).toBe(1);
    expect(await storedCount(app)).toBe(0);
  });

  it.each([
    [
      "another content type",
      { method: "POST", headers: { "content-type": "text/plain" }, body: '{"text":"x"}' },
      415,
      "unsupported_media_type",
    ],
    ["no content type", { method: "POST", body: '{"text":"x"}' }, 415, "unsupported_media_type"],
    ["a body over 16 KiB", json({ text: "x", author: "y".repeat(17_000) }), 413, "body_too_large"],
    ["invalid JSON", json('{"text":'), 400, "invalid_json"],
    ["JSON that is not an object", json("[1]"), 400, "invalid_body"],
    ["a missing text", json({ author: "ann" }), 400, "invalid_body"],
    ["an empty text", json({ text: "" }), 400, "invalid_body"],
    ["a blank text", json({ text: " \n\t " }), 400, "invalid_body"],
    ["a text over 2000 characters", json({ text: "é".repeat(2001) }), 400, "invalid_body"],
    ["a text that is not a string", json({ text: 42 }), 400, "invalid_body"],
    ["an author over 64 characters", json({ text: "x", author: "a".repeat(65) }), 400, "invalid_body"],
    ["an author that is not a string", json({ text: "x", author: ["a"] }), 400, "invalid_body"],
  ])("rejects %s and stores nothing", async (_name, init, status, code) => {
    const app = createApp(DEFAULT_CONFIG);
    const response = await app.request("/api/messages", init as RequestInit);
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(await storedCount(app)).toBe(0);
  });

  it("accepts 2000 characters of astral text (counted as characters, not UTF-16 units)", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const response = await app.request("/api/messages", json({ text: "🎉".repeat(2000) }));
    expect(response.status).toBe(201);
  });

  it("answers any fuzzed body with a 4xx JSON error or a 201, never a 5xx", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.record({ text: fc.anything(), author: fc.anything() }).map((value) => JSON.stringify(value)),
    );
    const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "");
    let created = 0;
    await fc.assert(
      fc.asyncProperty(body, contentType, async (text, type) => {
        const headers: Record<string, string> = type ? { "content-type": type } : {};
        const response = await app.request("/api/messages", { method: "POST", headers, body: text });
        if (response.status === 201) {
          created++;
          return;
        }
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        const answer = (await response.json()) as { error: { code: string } };
        expect(typeof answer.error.code).toBe("string");
      }),
      { numRuns: 300 },
    );
    // Only the valid bodies were stored.
    expect(await storedCount(app)).toBe(created);
  });
});

describe("GET /api/messages and the stream's parameters", () => {
  it.each([
    ["/api/messages?after=abc", "invalid_query"],
    ["/api/messages?after=-1", "invalid_query"],
    ["/api/messages?limit=0", "invalid_query"],
    ["/api/messages?limit=1001", "invalid_query"],
    ["/api/messages?after=99999999999999999", "invalid_query"],
    ["/api/channels/a%20b/messages", "invalid_channel"],
    [`/api/channels/${"c".repeat(65)}/messages`, "invalid_channel"],
    ["/api/messages/stream?lastEventId=x", "invalid_query"],
  ])("GET %s is a JSON 400", async (path, code) => {
    const response = await createApp(DEFAULT_CONFIG).request(path);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  it.each(["abc", "1.5", "-3", "9".repeat(40), "1 2"])("rejects Last-Event-ID %j with a JSON 400", async (id) => {
    const response = await createApp(DEFAULT_CONFIG).request("/api/messages/stream", {
      headers: { "last-event-id": id },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_last_event_id");
  });
});

describe("channel events on the memory hub", () => {
  const appFetch =
    (app: ReturnType<typeof createApp>): AppFetch =>
    async (path, init) =>
      app.request(path, init);
  let channels = 0;
  const fresh = () => `events-${++channels}`;

  it("round-trips any JSON value, named or not, through publish, stream, replay and list", async () => {
    await checkRoundTrip(appFetch(createApp(DEFAULT_CONFIG)), fresh());
  });

  it.each(BAD_PUBLICATIONS)("rejects %s and stores nothing", async (...rejection) => {
    await checkRejection(appFetch(createApp(DEFAULT_CONFIG)), fresh(), rejection);
  });

  it("stores any JSON value fast-check makes and lists it back equal, with any valid event name", async () => {
    const app = appFetch(createApp({ ...DEFAULT_CONFIG, publishRateLimit: 0 }));
    const channel = fresh();
    const name = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/).filter((event) => !RESERVED_EVENT_NAMES.has(event));
    let after = 0;
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.option(name, { nil: undefined }), async (data, event) => {
        const response = await app(`/api/channels/${channel}/events`, json({ data, event }));
        expect(response.status).toBe(201);
        const listed = (await (await app(`/api/channels/${channel}/events?after=${after}`)).json()) as {
          events: StoredEvent[];
        };
        expect(listed.events.length).toBe(1);
        const [stored] = listed.events as [StoredEvent];
        // JSON itself turns -0 into 0: compare with what JSON can carry.
        expect(stored.data).toEqual(JSON.parse(JSON.stringify(data)));
        expect(stored.event).toBe(event ?? null);
        after = stored.id;
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a body over EVENT_MAX_BYTES with 413 and stores nothing", async () => {
    const app = appFetch(createApp({ ...DEFAULT_CONFIG, eventMaxBytes: 1024 }));
    const channel = fresh();
    expect((await app(`/api/channels/${channel}/events`, json({ data: "x".repeat(1000) }))).status).toBe(201);
    await checkRejection(app, fresh(), ["big", json({ data: "x".repeat(1020) }), 413, "body_too_large"]);
  });

  it("stores a publication retried with one Idempotency-Key once, sequentially and concurrently", async () => {
    await checkIdempotency([appFetch(createApp(DEFAULT_CONFIG))], fresh());
  });

  it("answers a retried message with the first message, in the seed's shape", async () => {
    await checkMessageIdempotency(appFetch(createApp(DEFAULT_CONFIG)), fresh());
  });

  it("keeps one publisher's Idempotency-Key apart from another's (the token's sub)", async () => {
    const config = { ...DEFAULT_CONFIG, authSecret: "s".repeat(32) };
    const app = createApp(config);
    const tokenOf = async (sub: string) =>
      `Bearer ${await sign({ sub, sse: { publish: ["*"], subscribe: ["*"] } }, config.authSecret)}`;
    const channel = fresh();
    const publish = async (sub: string) =>
      app.request(
        `/api/channels/${channel}/events`,
        json({ data: sub }, { "idempotency-key": "same", authorization: await tokenOf(sub) }),
      );
    expect((await publish("ann")).status).toBe(201);
    expect((await publish("bob")).status).toBe(201);
    expect((await publish("ann")).status).toBe(200);
  });

  it("sends events published on the generic route to the demo's stream and list, as their data", async () => {
    const app = appFetch(createApp(DEFAULT_CONFIG));
    const stream = readEvents(await app("/api/messages/stream"));
    await stream.opened();
    const message = (await (await app("/api/messages", json({ text: "hi" }))).json()) as { id: number };
    expect((await app("/api/channels/default/events", json({ data: [1], event: "tick" }))).status).toBe(201);
    const first = await stream.next();
    expect({ id: first.id, event: first.event, data: JSON.parse(first.data) }).toEqual({
      id: String(message.id),
      event: undefined,
      data: message,
    });
    const second = await stream.next();
    expect({ id: Number(second.id), event: second.event, data: second.data }).toEqual({
      id: message.id + 1,
      event: "tick",
      data: "[1]",
    });
    await stream.cancel();
    const listed = (await (await app("/api/messages")).json()) as { messages: unknown[] };
    expect(listed.messages).toEqual([message, [1]]);
  });
});
