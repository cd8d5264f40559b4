/**
 * Workers under `wrangler dev`: the channel's object restarts (reset with `ctx.abort()`, as a
 * crash or a deploy does) while `eventsource` clients follow it and messages keep coming. Each
 * Worker request reconnects its socket and resumes from the last id it wrote, so every client
 * ends with every id, once and in order, on the stream it opened first. The channel's stream of the
 * log, read at /v1/stream/channels/<name>, then holds every acknowledged event once, in order, and a
 * Durable Streams SSE reader that followed it across the restart (its watch socket dropped with the
 * object's) has seen exactly that. The server runs test/workers/restartable-worker.ts, the Worker
 * with a route that restarts an object.
 */
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRestartableWorker } from "../support/restartable-worker.ts";
import type { RunningServer } from "../support/server.ts";
import { eventually } from "../support/sse-reader.ts";
import { followSse, readAll } from "../support/stream-client.ts";

const SUBSCRIBERS = 5;
const MESSAGES = 60;

describe("a channel object that restarts under wrangler dev", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startRestartableWorker({ KEEP_ALIVE_MS: "300", PUBLISH_RATE_LIMIT: "0" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("ends every subscriber's stream with every id, once and in order, and no stream reopened", async () => {
    const channel = `restart-${Date.now()}`;
    const base = `${server.url}/api/channels/${channel}/messages`;
    const subscribers = Array.from({ length: SUBSCRIBERS }, () => {
      const source = new EventSource(`${base}/stream`);
      const subscriber = { source, ids: [] as number[], opens: 0 };
      source.onopen = () => subscriber.opens++;
      source.onmessage = (event) => subscriber.ids.push(Number(event.lastEventId));
      return subscriber;
    });
    const stats = async () => ((await (await fetch(`${base}/stats`)).json()) as { subscribers: number }).subscribers;
    expect(await eventually(stats, SUBSCRIBERS)).toBe(SUBSCRIBERS);

    const created: number[] = [];
    const publish = async (text: string) => {
      const response = await fetch(base, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
      expect(response.status).toBe(201);
      created.push(((await response.json()) as { id: number }).id);
    };
    await publish("before 0");
    // The channel's stream exists from its first event on.
    const streamUrl = `${server.url}/v1/stream/channels/${channel}`;
    const streamReader = followSse(() => streamUrl);
    for (let i = 1; i < MESSAGES / 2; i++) await publish(`before ${i}`);
    const restarted = await fetch(`${server.url}/test/restart/${channel}`, { method: "POST" });
    expect(restarted.status).toBe(204);
    // Some of these reach the new instance before the subscribers' sockets are back: they come
    // from history when each one catches up.
    await Promise.all(Array.from({ length: MESSAGES / 2 }, (_, i) => publish(`after ${i}`)));
    created.sort((a, b) => a - b);

    const deadline = Date.now() + 20_000;
    while (subscribers.some((subscriber) => subscriber.ids.length < MESSAGES) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const subscriber of subscribers) {
      expect(subscriber.ids).toEqual(created);
      expect(subscriber.opens).toBe(1);
    }
    for (const subscriber of subscribers) subscriber.source.close();
    expect(await eventually(stats, 0)).toBe(0);

    const idsOf = (entries: unknown[]) => entries.map((entry) => (entry as { id: number }).id);
    const stored = idsOf(await readAll(streamUrl));
    expect(stored).toEqual(created);
    expect(idsOf(await streamReader.until(MESSAGES))).toEqual(created);
    await streamReader.stop();
  });
});
