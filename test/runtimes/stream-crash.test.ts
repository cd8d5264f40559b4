/**
 * Durable streams under a crash of `wrangler dev`: with its storage in a temporary directory, the
 * whole process group (npm, wrangler, workerd) is killed with SIGKILL while two idempotent producers
 * append and an SSE reader follows, then started again on the same storage and port. The producers
 * send again what was not answered 2xx (same Producer-Seq), and the reader comes back from its last
 * offset. Every append is then there exactly once, each producer's in order (the producers' state
 * survived too), and the reader has seen exactly what a catch-up read returns.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../support/server.ts";
import {
  appendUntilAccepted,
  expectEveryAppendOnceInOrder,
  followSse,
  type Retrying,
  readAll,
} from "../support/stream-client.ts";

const PRODUCERS = 2;
const APPENDS = 60; // per producer
const KILL_AFTER = 50; // appends acknowledged in all

describe("a crash of wrangler dev (durable streams' objects)", () => {
  const servers: RunningServer[] = [];
  let storage: string | undefined;
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    if (storage) await rm(storage, { recursive: true, force: true });
  });

  it("keeps every append answered 2xx once and in order across a kill -9, and the SSE reader resumes", async () => {
    storage = await mkdtemp(join(tmpdir(), "edge-sse-stream-crash-"));
    const settings = { PUBLISH_RATE_LIMIT: "0", MAX_STREAMS_PER_CLIENT: "0", KEEP_ALIVE_MS: "300" };
    const first = await startServer("workerd", settings, { args: ["--persist-to", storage] });
    servers.push(first);
    const url = `${first.url}/v1/stream/crash-${Date.now()}`;
    const created = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" } });
    expect(created.status).toBe(201);

    // Between the kill and the restart, tries wait for the server to be back instead of spinning.
    let restarted: Promise<RunningServer> | undefined;
    const retrying: Retrying = {
      again: async () => {
        if (restarted !== undefined) await restarted;
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
    };
    const reader = followSse(() => url, retrying);

    let acknowledged = 0;
    let failedTries = 0;
    const kill = async () => {
      first.signal("SIGKILL");
      expect(await first.exited(10_000)).toBe(true);
      const port = Number(new URL(first.url).port);
      const second = await startServer("workerd", settings, { port, args: ["--persist-to", storage as string] });
      servers.push(second);
      return second;
    };
    const produce = async (producer: number) => {
      for (let seq = 0; seq < APPENDS; seq++) {
        failedTries += await appendUntilAccepted(() => url, producer, seq, retrying);
        if (++acknowledged === KILL_AFTER) restarted = kill();
      }
    };
    await Promise.all(Array.from({ length: PRODUCERS }, (_, producer) => produce(producer)));
    expect(restarted).toBeDefined();
    await restarted;

    const stored = await readAll(url);
    expectEveryAppendOnceInOrder(stored, PRODUCERS, APPENDS);
    expect(await reader.until(stored.length)).toEqual(stored);
    await reader.stop();
    expect(reader.opens()).toBeGreaterThan(1);
    console.info(
      `stream crash: ${failedTries} append tries failed and were sent again; the SSE reader opened ${reader.opens()} response(s)`,
    );
  });
});
