/**
 * The live feed under every runtime, read by `eventsource` clients: many subscribers, concurrent
 * publishers, a subscriber that drops and resumes, and cleanup afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppFetch, checkIdempotency, checkRoundTrip } from "../support/channel-events.ts";
import { IdSubscriber as Subscriber } from "../support/id-subscriber.ts";
import { RUNTIMES, type RunningServer, startServer } from "../support/server.ts";
import { eventually } from "../support/sse-reader.ts";

const SUBSCRIBERS = 20;
const MESSAGES = 200;
const PUBLISHERS = 8;

async function publish(url: string, count: number, publishers: number): Promise<number[]> {
  const ids: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (next < count) {
        const text = `message ${next++}`;
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text }),
        });
        if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
        ids.push(((await response.json()) as { id: number }).id);
      }
    }),
  );
  return ids.sort((a, b) => a - b);
}

describe.each(RUNTIMES)("the feed on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, { KEEP_ALIVE_MS: "300" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const stats = async (channel: string) =>
    (await (await fetch(`${server.url}/api/channels/${channel}/messages/stats`)).json()) as { subscribers: number };

  it(`delivers ${MESSAGES} concurrent messages to ${SUBSCRIBERS} subscribers, each once and in order`, async () => {
    const channel = `matrix-${Date.now()}`;
    const base = `${server.url}/api/channels/${channel}/messages`;
    const subscribers = Array.from({ length: SUBSCRIBERS }, () => new Subscriber(`${base}/stream`));
    await Promise.all(subscribers.map((subscriber) => subscriber.opened));
    expect(await eventually(async () => (await stats(channel)).subscribers, SUBSCRIBERS)).toBe(SUBSCRIBERS);

    // One subscriber drops once it has seen a quarter of the messages, and resumes by id.
    const dropper = subscribers[0] as Subscriber;
    let dropped = false;
    const watch = setInterval(() => {
      if (!dropped && dropper.ids.length >= MESSAGES / 4) {
        dropped = true;
        dropper.resume();
      }
    }, 5);

    const created = await publish(base, MESSAGES, PUBLISHERS);
    const deadline = Date.now() + 20_000;
    while (subscribers.some((subscriber) => subscriber.ids.length < MESSAGES) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearInterval(watch);
    expect(dropped).toBe(true);
    for (const subscriber of subscribers) expect(subscriber.ids).toEqual(created);

    for (const subscriber of subscribers) subscriber.close();
    expect(await eventually(async () => (await stats(channel)).subscribers, 0)).toBe(0);
  });

  it("frees an idle feed stream (no messages at all) within 2 s of the client leaving", async () => {
    const channel = `idle-${Date.now()}`;
    const subscriber = new Subscriber(`${server.url}/api/channels/${channel}/messages/stream`);
    await subscriber.opened;
    expect(await eventually(async () => (await stats(channel)).subscribers, 1)).toBe(1);
    subscriber.close();
    // On workerd the departure is seen at the next write: here the 300 ms keep-alive.
    expect(await eventually(async () => (await stats(channel)).subscribers, 0)).toBe(0);
  });

  it("streams the default channel at the seed's path, /api/ssemessages", async () => {
    const subscriber = new Subscriber(`${server.url}/api/ssemessages`);
    await subscriber.opened;
    await eventually(async () => (await stats("default")).subscribers, 1);
    const [id] = await publish(`${server.url}/api/messages`, 1, 1);
    await eventually(async () => subscriber.ids.length, 1);
    expect(subscriber.ids).toEqual([id]);
    subscriber.close();
    expect(await eventually(async () => (await stats("default")).subscribers, 0)).toBe(0);
  });

  it("carries any JSON value with its event name, and stores one event for one Idempotency-Key", async () => {
    const app: AppFetch = (path, init) => fetch(`${server.url}${path}`, init);
    await checkRoundTrip(app, `values-${Date.now()}`);
    await checkIdempotency([app], `idempotent-${Date.now()}`, 10);
  });
});
