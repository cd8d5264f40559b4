/**
 * The multi-channel stream's behaviour (`GET /api/stream?channel=…`), written once and run against
 * every backend and runtime: the app in-process (memory), real Node, Bun and Deno servers (memory,
 * Redis) and the Worker inside workerd (Durable Objects). Read with eventsource-parser.
 */
import type { EventSourceMessage } from "eventsource-parser";
import { expect } from "vitest";
import { eventually, PATIENCE_MS, readEvents, type SseReader } from "./sse-reader.ts";

export interface ChannelSetTarget {
  /** Answers a request to the app under test (a path with its query). */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** The server's HISTORY_LIMIT. */
  historyLimit: number;
}

let made = 0;
/** Channel names no other test (or earlier run on a persistent backend) has used. */
export const freshChannels = (count: number, prefix = "set"): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${++made}-${i}-${Date.now().toString(36)}`);

export const streamPath = (channels: readonly string[], query = "") =>
  `/api/stream?${channels.map((channel) => `channel=${channel}`).join("&")}${query}`;

export async function publish(target: ChannelSetTarget, channel: string, text: string): Promise<number> {
  const response = await target.request(`/api/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

/** Opens the stream and reads its first event, the cursor it starts from. */
export async function open(
  target: ChannelSetTarget,
  channels: readonly string[],
  headers: Record<string, string> = {},
): Promise<{ reader: SseReader; cursor: string }> {
  const response = await target.request(streamPath(channels), { headers });
  expect(response.status, response.status === 200 ? "" : await response.text()).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const reader = readEvents(response);
  const first = await reader.next();
  expect(first.event).toBe("cursor");
  return { reader, cursor: first.id as string };
}

/** The cursor's positions, as a map. */
export const positionsOf = (cursor: string) =>
  new Map(cursor.split(",").map((entry) => entry.split(":") as [string, string]));

/** Reads events until `count` channel messages came; returns them with every other event seen. */
export async function readMessages(reader: SseReader, count: number) {
  const messages: { channel: string; id: number; text: string; cursor: string }[] = [];
  const others: EventSourceMessage[] = [];
  while (messages.length < count) {
    const event = await reader.next();
    const [channel, type] = (event.event ?? "").split("/");
    if (type !== "message" || channel === undefined) {
      others.push(event);
      continue;
    }
    const message = JSON.parse(event.data) as { id: number; text: string };
    expect(event.id, "a channel's message carries the stream's cursor").toBeDefined();
    messages.push({ channel, id: message.id, text: message.text, cursor: event.id as string });
  }
  return { messages, others };
}

/** Publishes a last message on `channel` and expects it to be the next event: nothing else was coming. */
async function expectNothingMore(target: ChannelSetTarget, reader: SseReader, channel: string) {
  const id = await publish(target, channel, "marker");
  const next = await readMessages(reader, 1);
  expect(next.others.filter((event) => !event.event?.endsWith("/presence"))).toEqual([]);
  expect(next.messages.map((message) => [message.channel, message.id])).toEqual([[channel, id]]);
}

export async function everyMessageOnceInOrder(target: ChannelSetTarget, perChannel = 20): Promise<void> {
  const channels = freshChannels(3);
  const { reader } = await open(target, channels);
  try {
    // One publisher per channel, all at once, each waiting for its own answers in turn.
    const published = await Promise.all(
      channels.map(async (channel) => {
        const ids: number[] = [];
        for (let i = 0; i < perChannel; i++) ids.push(await publish(target, channel, `${channel} ${i}`));
        return ids;
      }),
    );
    const { messages, others } = await readMessages(reader, channels.length * perChannel);
    expect(others).toEqual([]);
    channels.forEach((channel, i) => {
      const got = messages.filter((message) => message.channel === channel);
      expect(got.map((message) => message.id)).toEqual(published[i]);
      expect(got.map((message) => message.text)).toEqual(published[i]?.map((_, n) => `${channel} ${n}`));
    });
    // Each cursor holds each channel's last id sent so far.
    const last = new Map<string, string>(channels.map((channel) => [channel, ""]));
    for (const message of messages) {
      last.set(message.channel, String(message.id));
      const positions = positionsOf(message.cursor);
      expect([...positions.keys()]).toEqual(channels);
      for (const [channel, id] of last) if (id !== "") expect(positions.get(channel)).toBe(id);
    }
  } finally {
    await reader.cancel();
  }
}

export async function resumesFromCursor(target: ChannelSetTarget): Promise<void> {
  const channels = freshChannels(3);
  const [a, b, c] = channels as [string, string, string];
  // The cursor of the opening event alone resumes exactly: nothing was sent yet.
  const first = await open(target, channels);
  await first.reader.cancel();
  const a1 = await publish(target, a, "a1");
  const second = await open(target, channels, { "last-event-id": first.cursor });
  const got = await readMessages(second.reader, 1);
  expect(got.messages.map((message) => message.id)).toEqual([a1]);
  expect(got.others).toEqual([]);
  const cursor = got.messages[0]?.cursor as string;
  await second.reader.cancel();

  // Away: b twice and a once; c nothing.
  const b1 = await publish(target, b, "b1");
  const a2 = await publish(target, a, "a2");
  const b2 = await publish(target, b, "b2");
  const third = await open(target, channels, { "last-event-id": cursor });
  try {
    const back = await readMessages(third.reader, 3);
    expect(back.others).toEqual([]);
    const byChannel = (channel: string) => back.messages.filter((m) => m.channel === channel).map((m) => m.id);
    expect(byChannel(a)).toEqual([a2]);
    expect(byChannel(b)).toEqual([b1, b2]);
    expect(byChannel(c)).toEqual([]);
    await expectNothingMore(target, third.reader, c);
  } finally {
    await third.reader.cancel();
  }
}

export async function truncatedPerChannel(target: ChannelSetTarget): Promise<void> {
  const channels = freshChannels(2);
  const [a, b] = channels as [string, string];
  const first = await open(target, channels);
  await first.reader.cancel();
  // More than the history holds on a, one message on b.
  const ids: number[] = [];
  for (let i = 0; i < target.historyLimit + 3; i++) ids.push(await publish(target, a, `a${i}`));
  const b1 = await publish(target, b, "b1");
  const resumed = await open(target, channels, { "last-event-id": first.cursor });
  try {
    const kept = ids.slice(-target.historyLimit);
    const back = await readMessages(resumed.reader, kept.length + 1);
    expect(back.others.map((event) => event.event)).toEqual([`${a}/history-truncated`]);
    expect(JSON.parse(back.others[0]?.data ?? "")).toEqual({
      lastEventId: Number(positionsOf(first.cursor).get(a)),
      oldestId: kept[0],
    });
    expect(back.messages.filter((m) => m.channel === a).map((m) => m.id)).toEqual(kept);
    expect(back.messages.filter((m) => m.channel === b).map((m) => m.id)).toEqual([b1]);
  } finally {
    await resumed.reader.cancel();
  }
}

/** A cursor that is not one of this stream's: 400 invalid_cursor, no stream, no subscriber anywhere. */
export async function refusesBadCursors(target: ChannelSetTarget): Promise<void> {
  const channels = freshChannels(2);
  const [a, b] = channels as [string, string];
  const before = await openStreams(target);
  const bad = [
    "garbage",
    `${a}:1,${a}:2`,
    `${a}:1,other:2`,
    `${a}:1.5`,
    `${a}:-1`,
    `${a}:99999999999999999`,
    `${a}:1;${b}:2`,
    `${a}:1,${b}:2,${"x".repeat(200)}`,
    `${a}:1,`,
  ];
  for (const cursor of bad) {
    for (const init of [{ headers: { "last-event-id": cursor } }, undefined]) {
      const path = init ? streamPath(channels) : streamPath(channels, `&lastEventId=${encodeURIComponent(cursor)}`);
      const response = await target.request(path, init);
      expect(response.status, cursor).toBe(400);
      expect(await response.json()).toEqual({ error: { code: "invalid_cursor", message: expect.any(String) } });
    }
  }
  for (const channel of channels) expect(await subscribers(target, channel)).toBe(0);
  // Streams of earlier cases may still be closing on a real server: none may have been added.
  expect(await openStreams(target)).toBeLessThanOrEqual(before);
}

export async function subscribers(target: ChannelSetTarget, channel: string): Promise<number> {
  const response = await target.request(`/api/channels/${channel}/messages/stats`);
  return ((await response.json()) as { subscribers: number }).subscribers;
}

async function openStreams(target: ChannelSetTarget): Promise<number> {
  return ((await (await target.request("/api/stats")).json()) as { activeStreams: number }).activeStreams;
}

/** Everything a long enough wait for the stream's end gets. */
export async function readUntilEnd(reader: SseReader, timeoutMs = PATIENCE_MS): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      events.push(await reader.next(Math.max(1, deadline - Date.now())));
    } catch (error) {
      if ((error as Error).message === "stream ended") return events;
      throw error;
    }
  }
}

/** A token that may read `subscribe` until `exp` (seconds since the epoch). */
export type ReadToken = (subscribe: string[], exp?: number) => Promise<string>;

/**
 * With authorization on: one channel the token may not read refuses the whole stream, 403 naming it,
 * and nothing is followed; a private channel with no token at all is a 401 that names it.
 */
export async function refusesUnauthorizedChannel(target: ChannelSetTarget, token: ReadToken): Promise<void> {
  const [allowed, refused, other] = freshChannels(3, "private-") as [string, string, string];
  const response = await target.request(streamPath(["public", allowed, refused, other]), {
    headers: { authorization: `Bearer ${await token([allowed])}` },
  });
  expect(response.status).toBe(403);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await response.json()).toEqual({
    error: { code: "forbidden", message: `the token does not allow reading channel ${refused}` },
  });
  for (const channel of ["public", allowed, refused]) expect(await subscribers(target, channel)).toBe(0);
  const none = await target.request(streamPath(["public", refused]));
  expect(none.status).toBe(401);
  expect(await none.json()).toMatchObject({
    error: { code: "unauthorized", message: expect.stringContaining(refused) },
  });
}

/**
 * A stream opened with a token ends when it expires, with `token-expired` and a `retry:`, and every
 * channel's part ends with it: what is published afterwards reaches nobody.
 */
export async function endsWhenTokenExpires(target: ChannelSetTarget, token: ReadToken): Promise<void> {
  const [mine] = freshChannels(1, "private-") as [string];
  const exp = Math.floor(Date.now() / 1000) + 2;
  const response = await target.request(streamPath([mine, "public"], `&authorization=${await token([mine], exp)}`));
  expect(response.status).toBe(200);
  const reader = readEvents(response);
  expect((await reader.next()).event).toBe("cursor");
  await publish(target, mine, "before");
  expect((await readMessages(reader, 1)).messages[0]?.channel).toBe(mine);
  const rest = await readUntilEnd(reader);
  expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
  expect(rest.map((event) => event.event)).toEqual(["token-expired"]);
  expect(reader.retries.length).toBeGreaterThanOrEqual(2);
  await publish(target, mine, "after");
  expect(await eventually(() => subscribers(target, mine), 0)).toBe(0);
}

/**
 * The target with authorization on: publishes and stats carry `admin` (a token that may do anything);
 * streams carry what each case gives.
 */
export function withAdminToken(target: ChannelSetTarget, admin: () => Promise<string>): ChannelSetTarget {
  return {
    historyLimit: target.historyLimit,
    request: async (path, init) => {
      if (init?.method !== "POST" && !path.endsWith("/stats")) return target.request(path, init);
      return target.request(path, { ...init, headers: { ...init?.headers, authorization: `Bearer ${await admin()}` } });
    },
  };
}
