/**
 * A client that never reads, under each runtime: a raw `node:net` socket asks for a feed stream and
 * then stops reading (`socket.pause()`), while `eventsource` clients on the same channel read
 * normally. Large messages fill the kernel's buffers and then the server's queue for the silent
 * client (a small MAX_BUFFERED_BYTES), and the backpressure rule drops it (`overflow`, or `stalled`
 * after two short keep-alive periods); the readers get every message exactly once all the same.
 * Under wrangler dev the silent client's stream lives in the channel's Durable Object, behind the
 * Worker's pipe and wrangler's proxy, so more bytes fit on the way before it is dropped.
 */
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";
import { silentSubscriber } from "../support/silent-subscriber.ts";
import { eventually } from "../support/sse-reader.ts";

const READERS = 3;
/** Enough to fill several MiB of socket buffers many times over; the test stops as soon as the client is dropped. */
const MAX_MESSAGES = 4_000;
const MESSAGES_AFTER_DROP = 20;
// 2000 characters of three UTF-8 bytes: about 6 KB per event on the wire.
const TEXT = "€".repeat(1990);

const RUNTIMES: Runtime[] = ["node", "bun", "deno", "workerd"];

interface ServerStats {
  activeStreams: number;
  closedBy: Record<string, number | undefined>;
}

/** An EventSource that records every message id it gets. */
function reader(url: string): { ids: number[]; source: EventSource; opened: Promise<void> } {
  const source = new EventSource(url);
  const ids: number[] = [];
  source.onmessage = (event) => ids.push(Number(event.lastEventId));
  const opened = new Promise<void>((resolve) => {
    source.onopen = () => resolve();
  });
  return { ids, source, opened };
}

describe.each(RUNTIMES)("a client that never reads, on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, {
      MAX_BUFFERED_BYTES: "65536",
      KEEP_ALIVE_MS: "500",
      // This test publishes thousands of messages from one address.
      PUBLISH_RATE_LIMIT: "0",
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  // On Workers the feed's streams live in the channel's Durable Object, whose close counters the
  // Worker's /api/stats cannot see: there the channel's own subscriber count is the evidence.
  const streamsInProcess = runtime !== "workerd";
  const serverStats = async () => (await (await fetch(`${server.url}/api/stats`)).json()) as ServerStats;
  const dropped = async () => {
    const { closedBy } = await serverStats();
    return (closedBy.overflow ?? 0) + (closedBy.stalled ?? 0);
  };

  it("is dropped by the backpressure rule while every reading client gets every message once", async () => {
    const channel = `slow-${Date.now()}`;
    const base = `${server.url}/api/channels/${channel}/messages`;
    const subscribers = async () =>
      ((await (await fetch(`${base}/stats`)).json()) as { subscribers: number }).subscribers;

    const readers = Array.from({ length: READERS }, () => reader(`${base}/stream`));
    await Promise.all(readers.map((r) => r.opened));
    const silent = await silentSubscriber(new URL(`${base}/stream`));
    expect(await eventually(subscribers, READERS + 1)).toBe(READERS + 1);
    const droppedBefore = await dropped();

    const created: number[] = [];
    const publish = async () => {
      const response = await fetch(base, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: `${created.length} ${TEXT}` }),
      });
      if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
      created.push(((await response.json()) as { id: number }).id);
    };
    // Publish until the silent client is gone (checked every 20 messages), then a few more.
    let droppedAt: number | undefined;
    while (created.length < MAX_MESSAGES) {
      await Promise.all(Array.from({ length: 4 }, publish));
      if (created.length % 20 === 0 && (await subscribers()) === READERS) {
        droppedAt = created.length;
        break;
      }
    }
    expect(droppedAt, `the silent client was still subscribed after ${MAX_MESSAGES} messages`).toBeDefined();
    for (let i = 0; i < MESSAGES_AFTER_DROP; i++) await publish();

    expect(await subscribers()).toBe(READERS);
    if (streamsInProcess) expect((await dropped()) - droppedBefore).toBe(1);

    created.sort((a, b) => a - b);
    const deadline = Date.now() + 30_000;
    while (readers.some((r) => r.ids.length < created.length) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const r of readers) expect(r.ids).toEqual(created);

    for (const r of readers) r.source.close();
    silent.destroy();
    expect(await eventually(subscribers, 0)).toBe(0);
    if (streamsInProcess) expect(await eventually(async () => (await serverStats()).activeStreams, 0)).toBe(0);
  });
});
