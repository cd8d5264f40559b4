/**
 * The multi-channel stream's composition (src/hub/channel-set.ts) over the in-memory hub and over a
 * hub whose channel streams the test writes itself: the cursor's grammar, names of custom events,
 * a long replay paced to a small buffer, and a channel's stream that ends on its own.
 */
import { describe, expect, it } from "vitest";
import type { StreamSettings } from "../../src/hub/channel.ts";
import { CursorError, channelSetStream, parseCursor } from "../../src/hub/channel-set.ts";
import type { Hub } from "../../src/hub/hub.ts";
import { MemoryHub } from "../../src/hub/memory.ts";
import { type EventSink, eventStream, OpenStreams, StreamCapError } from "../../src/sse/index.ts";
import { readUntilEnd } from "../support/channel-set-cases.ts";
import { say } from "../support/publication.ts";
import { readEvents, type SseReader } from "../support/sse-reader.ts";

const SETTINGS: StreamSettings = { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 };
const request = new Request("http://edge-sse.test/api/stream");

describe("parseCursor", () => {
  const channels = ["news", "chat-1", "a_b"];

  it("reads each channel's position, in any order, leaving out any", () => {
    expect(parseCursor("news:17,a_b:0", channels)).toEqual(
      new Map([
        ["news", 17],
        ["a_b", 0],
      ]),
    );
    expect(parseCursor(`chat-1:${Number.MAX_SAFE_INTEGER}`, channels).get("chat-1")).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    ["", "not <channel>:<message id>"],
    ["news", "not <channel>:<message id>"],
    ["news:", "not <channel>:<message id>"],
    ["news:1,", "not <channel>:<message id>"],
    ["news: 1", "not <channel>:<message id>"],
    ["news:1e3", "not <channel>:<message id>"],
    ["news:0x1", "not <channel>:<message id>"],
    ["news:-1", "not <channel>:<message id>"],
    ["news:9007199254740993", "is not a message id"],
    ["news:12345678901234567", "not <channel>:<message id>"],
    ["other:1", "channel other is not one of this stream's"],
    ["news:1,news:2", "channel news appears twice"],
    ["news:1\nid: 2", "not <channel>:<message id>"],
    [`news:1,${"x".repeat(300)}`, "at most 245 characters"],
  ])("refuses %j: %s", (cursor, message) => {
    expect(() => parseCursor(cursor, channels)).toThrow(CursorError);
    expect(() => parseCursor(cursor, channels)).toThrow(message);
  });
});

/** A hub whose channel streams are written by the test: each channel's sink, once its stream started. */
function scriptedHub() {
  const sinks = new Map<string, EventSink>();
  const started = new Map<string, () => void>();
  const hub = {
    channelStats: async () => ({ subscribers: 0, catchingUp: 0, latestId: 0, oldestId: null }),
    stream: async (channel: string) =>
      eventStream(
        (sink) => {
          sinks.set(channel, sink);
          started.get(channel)?.();
        },
        { retry: 50, keepAliveMs: 0 },
      ),
  } as unknown as Hub;
  const sinkOf = (channel: string) =>
    sinks.get(channel) ??
    new Promise<EventSink>((resolve) => started.set(channel, () => resolve(sinks.get(channel) as EventSink)));
  return { hub, sinkOf };
}

describe("channelSetStream", () => {
  it("names a channel's own event types <channel>/<type>, and keeps events without an id out of the cursor", async () => {
    const { hub, sinkOf } = scriptedHub();
    const response = await channelSetStream(hub, {
      channels: ["shop", "news"],
      cursor: undefined,
      request,
      signal: undefined,
      settings: SETTINGS,
    });
    const reader = readEvents(response);
    expect(await reader.next()).toEqual({ event: "cursor", id: "shop:0,news:0", data: '{"shop":0,"news":0}' });
    const shop = await sinkOf("shop");
    shop.send({ event: "order", id: 5, data: '{"sku":1}' });
    shop.send({ event: "note", data: "no id" });
    expect(await reader.next()).toEqual({ event: "shop/order", id: "shop:5,news:0", data: '{"sku":1}' });
    expect(await reader.next()).toEqual({ event: "shop/note", id: undefined, data: "no id" });
    // Order holds within a channel; across channels, as each arrives.
    (await sinkOf("news")).send({ id: 9, data: "plain" });
    expect(await reader.next()).toEqual({ event: "news/message", id: "shop:5,news:9", data: "plain" });
    await reader.cancel();
  });

  it("ends the whole stream when one channel's stream ends on its own, passing on its later retry", async () => {
    const { hub, sinkOf } = scriptedHub();
    const openStreams = new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 });
    const reader = readEvents(
      await channelSetStream(hub, {
        channels: ["a", "b"],
        cursor: undefined,
        request,
        signal: undefined,
        settings: SETTINGS,
        openStreams,
      }),
    );
    await reader.next();
    const [a, b] = [await sinkOf("a"), await sinkOf("b")];
    a.send({ id: 1, data: "x", retry: 250 });
    a.close();
    const rest = await readUntilEnd(reader);
    expect(rest.map((event) => event.event)).toEqual(["a/message"]);
    expect(reader.retries).toEqual([SETTINGS.retry, 250]);
    expect(b.closed).toBe(true);
    expect(openStreams.toJSON().activeStreams).toBe(0);
  });

  it("reads the body of a hub whose channel streams are not edge-sse's own, and ends with it", async () => {
    const encoder = new TextEncoder();
    const hub = {
      channelStats: async () => ({ subscribers: 0, catchingUp: 0, latestId: 2, oldestId: null }),
      stream: async () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(encoder.encode("retry: 10\n\nid: 3\nda"));
              controller.enqueue(encoder.encode('ta: {"n":3}\n\nevent: order\ndata: x\n\n'));
              controller.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    } as unknown as Hub;
    const reader = readEvents(
      await channelSetStream(hub, {
        channels: ["o"],
        cursor: undefined,
        request,
        signal: undefined,
        settings: SETTINGS,
      }),
    );
    expect(await reader.next()).toMatchObject({ event: "cursor", id: "o:2" });
    expect(await readUntilEnd(reader)).toEqual([
      { event: "o/message", id: "o:3", data: '{"n":3}' },
      { event: "o/order", id: undefined, data: "x" },
    ]);
  });

  it("ends the whole stream when a live channel outruns a client that does not read, as a single stream would", async () => {
    const small = { ...SETTINGS, maxBufferedEvents: 20 };
    const hub = new MemoryHub(1000, small, new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }));
    const reader = readEvents(
      await channelSetStream(hub, {
        channels: ["fast", "slow"],
        cursor: undefined,
        request,
        signal: undefined,
        settings: small,
      }),
    );
    await reader.next();
    // Nothing is read from here on: the client's queue fills, then the channel's own. One message a
    // turn: what is published in one turn is one write (a run), to a single stream as to this one.
    for (let i = 0; i < 200; i++) {
      await hub.publish("fast", say(`${i}`));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await hub.channelStats("fast")).subscribers).toBe(0);
    expect((await hub.channelStats("slow")).subscribers).toBe(0);
    const got = await readUntilEnd(reader);
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(200);
  });

  it("writes what its channels publish in one turn as one chunk, each event with the cursor after it, to every subscriber", async () => {
    const hub = new MemoryHub(1000, SETTINGS, new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }));
    const channels = ["t1", "t2", "t3"];
    const open = async () => {
      const response = await channelSetStream(hub, {
        channels,
        cursor: undefined,
        request,
        signal: undefined,
        settings: SETTINGS,
      });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // retry:
      const cursor = new TextDecoder().decode((await reader.read()).value);
      return { reader, start: /id: (.*)\n/.exec(cursor)?.[1] };
    };
    const [first, second] = [await open(), await open()];
    expect(second.start).toBe(first.start);
    const ids: number[] = [];
    for (const channel of channels) ids.push((await hub.publish(channel, say(channel))).event.id);
    const [one, two, three] = ids as [number, number, number];
    for (const { reader } of [first, second]) {
      const chunk = new TextDecoder().decode((await reader.read()).value);
      const events = chunk.split("\n\n").filter(Boolean);
      expect(events.map((event) => /^event: (.*)$/m.exec(event)?.[1])).toEqual([
        "t1/message",
        "t2/message",
        "t3/message",
      ]);
      expect(events.map((event) => /^id: (.*)$/m.exec(event)?.[1])).toEqual([
        `t1:${one},t2:${two - 1},t3:${three - 1}`,
        `t1:${one},t2:${two},t3:${three - 1}`,
        `t1:${one},t2:${two},t3:${three}`,
      ]);
      await reader.cancel();
    }
  });

  it("writes every stream that waits at the end of the task, each from its own positions, one that replayed first", async () => {
    const hub = new MemoryHub(1000, SETTINGS, new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }));
    const open = async (channels: string[], cursor?: Map<string, number>) => {
      const reader = readEvents(
        await channelSetStream(hub, { channels, cursor, request, signal: undefined, settings: SETTINGS }),
      );
      return { reader, start: (await reader.next()).id as string };
    };
    const starts = new Map<string, number>();
    for (const channel of ["f1", "f2", "f3"]) starts.set(channel, (await hub.channelStats(channel)).latestId);
    const x = await open(["f1", "f2"]);
    const before = (await hub.publish("f1", say("before"))).event.id;
    expect((await x.reader.next()).id).toBe(`f1:${before},f2:${starts.get("f2")}`);
    // y starts after `before`; z replays it (its cursor is from before it), then goes live.
    const y = await open(["f1", "f3"]);
    const z = await open(["f3", "f1"], new Map([["f1", starts.get("f1") as number]]));
    expect(y.start).toBe(`f1:${before},f3:${starts.get("f3")}`);
    // In one turn: every stream gets its channels' messages, each cursor after its own positions.
    const ids = new Map<string, number>();
    for (const channel of ["f1", "f2", "f3"]) ids.set(channel, (await hub.publish(channel, say(channel))).event.id);
    const next = async (reader: SseReader, count: number) => {
      const got: string[] = [];
      for (let n = 0; n < count; n++) {
        const event = await reader.next();
        got.push(`${event.event} ${event.id}`);
      }
      return got;
    };
    const [f1, f2, f3] = ["f1", "f2", "f3"].map((channel) => ids.get(channel));
    expect(await next(x.reader, 2)).toEqual([
      `f1/message f1:${f1},f2:${starts.get("f2")}`,
      `f2/message f1:${f1},f2:${f2}`,
    ]);
    expect(await next(y.reader, 2)).toEqual([
      `f1/message f1:${f1},f3:${starts.get("f3")}`,
      `f3/message f1:${f1},f3:${f3}`,
    ]);
    expect(await next(z.reader, 3)).toEqual([
      `f1/message f3:${starts.get("f3")},f1:${before}`,
      // What waits goes in the stream's order of channels.
      `f3/message f3:${f3},f1:${before}`,
      `f1/message f3:${f3},f1:${f1}`,
    ]);
    for (const { reader } of [x, y, z]) await reader.cancel();
  });

  it("stays exact whether a turn sends one channel's run (written at once) or several's (gathered)", async () => {
    const hub = new MemoryHub(1000, SETTINGS, new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }));
    const channels = ["g1", "g2", "g3"];
    const reader = readEvents(
      await channelSetStream(hub, { channels, cursor: undefined, request, signal: undefined, settings: SETTINGS }),
    );
    const positions = new Map(Object.entries(JSON.parse((await reader.next()).data) as Record<string, number>));
    // Turns of one channel, of two, of all three, and a channel publishing twice in a turn.
    const turns = [["g1"], ["g2", "g3"], ["g3"], ["g1", "g2", "g3"], ["g2", "g2"], ["g1"], ["g3", "g1", "g1"]];
    const sent = new Map(channels.map((channel) => [channel, [] as number[]]));
    for (const turn of turns) {
      for (const channel of turn) sent.get(channel)?.push((await hub.publish(channel, say(channel))).event.id);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const got = new Map(channels.map((channel) => [channel, [] as number[]]));
    for (let n = 0; n < turns.flat().length; n++) {
      const event = await reader.next();
      const channel = event.event?.split("/")[0] as string;
      const id = JSON.parse(event.data).id as number;
      got.get(channel)?.push(id);
      positions.set(channel, id);
      // Each event's cursor: every channel's last id sent so far, this one's included.
      expect(event.id).toBe(channels.map((name) => `${name}:${positions.get(name)}`).join(","));
    }
    expect(got).toEqual(sent);
    await reader.cancel();
  });

  it("paces a long replay of several channels to what the client reads, instead of dropping it", async () => {
    const hub = new MemoryHub(1000, SETTINGS, new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }));
    const channels = ["p", "q", "r"];
    const starts = await Promise.all(channels.map(async (channel) => (await hub.channelStats(channel)).latestId));
    for (let i = 0; i < 300; i++) for (const channel of channels) await hub.publish(channel, say(`${i}`));
    // 900 messages to replay into a stream that may hold 20 unread.
    const response = await channelSetStream(hub, {
      channels,
      cursor: new Map(channels.map((channel, i) => [channel, starts[i] as number])),
      request,
      signal: undefined,
      settings: { ...SETTINGS, maxBufferedEvents: 20 },
    });
    const reader = readEvents(response);
    await reader.next();
    const texts = new Map(channels.map((channel) => [channel, [] as string[]]));
    for (let n = 0; n < 900; n++) {
      const event = await reader.next();
      texts.get(event.event?.split("/")[0] as string)?.push(JSON.parse(event.data).text);
      if (n % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const channel of channels) expect(texts.get(channel)).toEqual(Array.from({ length: 300 }, (_, i) => `${i}`));
    await reader.cancel();
  });

  it("lets go of the channels it opened when another refuses (a cap, a backend down), and rejects with its error", async () => {
    const openStreams = new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 });
    const memory = new MemoryHub(1000, SETTINGS, openStreams);
    const refusal = new StreamCapError("client-streams");
    // The memory hub is followed with `subscribe`; a hub without it, with `stream`: either refuses.
    const hub = Object.assign(Object.create(memory) as Hub, {
      subscribe: (channel: string, options: Parameters<NonNullable<Hub["subscribe"]>>[1]) =>
        channel === "full" ? Promise.reject(refusal) : memory.subscribe(channel, options),
    });
    const opening = channelSetStream(hub, {
      channels: ["x", "full", "y"],
      cursor: undefined,
      request,
      signal: undefined,
      settings: SETTINGS,
      openStreams,
    });
    await expect(opening).rejects.toBe(refusal);
    for (const channel of ["x", "y"]) expect((await memory.channelStats(channel)).subscribers).toBe(0);
    expect(openStreams.toJSON().activeStreams).toBe(0);
  });

  it("leaves no channel behind when the stream is never read (a HEAD, a client gone at once)", async () => {
    const hub = new MemoryHub(1000, SETTINGS, new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }));
    const response = await channelSetStream(hub, {
      channels: ["never-1", "never-2"],
      cursor: undefined,
      request,
      signal: undefined,
      settings: SETTINGS,
    });
    await response.body?.cancel();
    expect(await hub.stats()).toEqual({});
  });

  it("ends with the server's shutdown: a retry for the client, and every channel's stream gone", async () => {
    const openStreams = new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 });
    const hub = new MemoryHub(1000, SETTINGS, openStreams);
    const reader = readEvents(
      await channelSetStream(hub, {
        channels: ["s1", "s2"],
        cursor: undefined,
        request,
        signal: undefined,
        settings: SETTINGS,
        openStreams,
      }),
    );
    await reader.next();
    expect((await hub.channelStats("s1")).subscribers).toBe(1);
    expect(openStreams.toJSON().activeStreams).toBe(1);
    openStreams.shutdown();
    expect(await readUntilEnd(reader)).toEqual([]);
    expect(reader.comments).toContain("server shutting down");
    for (const channel of ["s1", "s2"]) expect((await hub.channelStats(channel)).subscribers).toBe(0);
  });
});
