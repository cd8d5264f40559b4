/**
 * Workers under `wrangler dev`: a durable stream's object restarts three times (reset with
 * `ctx.abort()`, as a crash or a deploy does) while two idempotent producers append to it and an
 * SSE reader follows it. Each producer sends its appends one after another and sends an append
 * again, with the same Producer-Seq, until it is answered 2xx (the protocol's retry). Afterwards the
 * stream holds every append exactly once, each producer's in order, and the SSE reader has seen
 * exactly what a catch-up read returns: it went on across the restarts, or came back from its last
 * offset. And an append whose object resets right after storing it is answered `503
 * backend_unavailable`, and its retry is a duplicate (stored once). The server runs
 * test/workers/restartable-worker.ts, the Worker with routes that restart an object.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRestartableWorker } from "../support/restartable-worker.ts";
import type { RunningServer } from "../support/server.ts";
import { appendUntilAccepted, expectEveryAppendOnceInOrder, followSse, readAll } from "../support/stream-client.ts";

const PRODUCERS = 2;
const APPENDS = 40; // per producer
// Producer 0 has its object restarted right after these appends, while producer 1 goes on.
const RESTART_AFTER = new Set([20, 26, 32]);

describe("a durable stream's object that restarts under wrangler dev", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startRestartableWorker({
      KEEP_ALIVE_MS: "300",
      PUBLISH_RATE_LIMIT: "0",
      MAX_STREAMS_PER_CLIENT: "0",
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("keeps every append answered 2xx exactly once and in order, and the SSE reader sees them all", async () => {
    const name = `restart-${Date.now()}`;
    const url = `${server.url}/v1/stream/${name}`;
    const created = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" } });
    expect(created.status).toBe(201);
    const instance = async () => (await fetch(`${server.url}/test/stream-instance/${name}`)).text();
    const before = await instance();
    const reader = followSse(() => url);

    let failedTries = 0;
    const restarts: Promise<Response>[] = [];
    const produce = async (producer: number) => {
      for (let seq = 0; seq < APPENDS; seq++) {
        failedTries += await appendUntilAccepted(() => url, producer, seq);
        // Not awaited: the other producer's appends and this one's next meet the object going away.
        if (producer === 0 && RESTART_AFTER.has(seq)) {
          restarts.push(fetch(`${server.url}/test/restart-stream/${name}`, { method: "POST" }));
        }
      }
    };
    await Promise.all(Array.from({ length: PRODUCERS }, (_, producer) => produce(producer)));
    for (const restarted of await Promise.all(restarts)) expect(restarted.status).toBe(204);
    expect(await instance()).not.toBe(before);

    const stored = await readAll(url);
    expectEveryAppendOnceInOrder(stored, PRODUCERS, APPENDS);
    expect(await reader.until(stored.length)).toEqual(stored);
    await reader.stop();
    console.info(
      `stream object restarts: ${failedTries} append tries failed and were sent again; the SSE reader opened ${reader.opens()} response(s)`,
    );
  });
  it("answers an append whose object reset after storing it 503 backend_unavailable; its retry is a duplicate, stored once", async () => {
    const name = `fail-${Date.now()}`;
    const url = `${server.url}/v1/stream/${name}`;
    const created = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" } });
    expect(created.status).toBe(201);
    const append = () =>
      fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "producer-id": "producer-0",
          "producer-epoch": "0",
          "producer-seq": "0",
        },
        body: JSON.stringify({ producer: 0, seq: 0 }),
      });
    expect((await fetch(`${server.url}/test/fail-next-append/${name}`, { method: "POST" })).status).toBe(204);
    const failed = await append();
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).not.toBeNull();
    expect(await failed.json()).toEqual({ error: { code: "backend_unavailable", message: expect.any(String) } });
    // It had been stored: the producer's retry is answered as a duplicate and stores nothing.
    const retried = await append();
    expect(retried.status).toBe(204);
    expectEveryAppendOnceInOrder(await readAll(url), 1, 1);
  });
});
