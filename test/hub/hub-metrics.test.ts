/**
 * What the in-memory hub reports to its HubMetrics: one `published` per publish with its channel,
 * one `delivered(count)` per run (what was published in one turn of the event loop, sent at its end)
 * with the number of events written (not one call per subscriber), and one `delivered(1)` per
 * replayed message.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { HubMetrics } from "../../src/hub/hub-metrics.ts";
import { MemoryHub } from "../../src/hub/memory.ts";
import { OpenStreams } from "../../src/sse/index.ts";
import { say } from "../support/publication.ts";
import { readEvents, type SseReader } from "../support/sse-reader.ts";

const SETTINGS = { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 };

function recordingMetrics() {
  const calls: [string, unknown][] = [];
  const metrics: HubMetrics = {
    published: (channel) => calls.push(["published", channel]),
    delivered: (count) => calls.push(["delivered", count]),
    redisConnected: (connected) => calls.push(["redisConnected", connected]),
    gapFilled: (count) => calls.push(["gapFilled", count]),
    recovered: () => calls.push(["recovered", undefined]),
  };
  return { metrics, calls };
}

const readers: SseReader[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.cancel().catch(() => undefined)));
});

describe("MemoryHub with HubMetrics", () => {
  async function subscribe(hub: MemoryHub, channel: string, after?: number) {
    const response = await hub.stream(channel, { after, request: new Request("http://x/"), signal: undefined });
    const reader = readEvents(response);
    readers.push(reader);
    await reader.opened();
    return reader;
  }

  it("reports each publish once with its channel, and its fan-out as one count", async () => {
    const { metrics, calls } = recordingMetrics();
    const hub = new MemoryHub(100, SETTINGS, new OpenStreams(), metrics);
    const subscribers = await Promise.all([1, 2, 3].map(() => subscribe(hub, "news")));
    await hub.publish("news", say("to three"));
    await hub.publish("empty", say("to nobody"));
    for (const subscriber of subscribers) expect(JSON.parse((await subscriber.next()).data).text).toBe("to three");
    expect(calls).toEqual([
      ["published", "news"],
      ["published", "empty"],
      ["delivered", 3],
    ]);
  });

  it("counts a run of publishes in one turn as one delivery count: events times subscribers", async () => {
    const { metrics, calls } = recordingMetrics();
    const hub = new MemoryHub(100, SETTINGS, new OpenStreams(), metrics);
    const subscribers = await Promise.all([1, 2].map(() => subscribe(hub, "news")));
    await Promise.all(["a", "b", "c"].map((text) => hub.publish("news", say(text))));
    for (const subscriber of subscribers) {
      for (const text of ["a", "b", "c"]) expect(JSON.parse((await subscriber.next()).data).text).toBe(text);
    }
    expect(calls.filter(([name]) => name === "delivered")).toEqual([["delivered", 6]]);
  });

  it("reports each replayed message as one delivery", async () => {
    const { metrics, calls } = recordingMetrics();
    const hub = new MemoryHub(100, SETTINGS, new OpenStreams(), metrics);
    const first = await hub.publish("news", say("1"));
    await hub.publish("news", say("2"));
    await hub.publish("news", say("3"));
    calls.length = 0;
    const resumed = await subscribe(hub, "news", first.event.id);
    expect(JSON.parse((await resumed.next()).data).text).toBe("2");
    expect(JSON.parse((await resumed.next()).data).text).toBe("3");
    expect(calls).toEqual([
      ["delivered", 1],
      ["delivered", 1],
    ]);
  });
});
