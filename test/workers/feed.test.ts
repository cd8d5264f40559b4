/**
 * The live feed inside workerd: channels are Durable Objects with SQLite history.
 */
import { abortAllDurableObjects } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
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
