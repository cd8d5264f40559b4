/**
 * `@durable-streams/client` (Electric's own client, pinned) writing and reading our streams on a real
 * Node server: an idempotent producer's batches, a live SSE reader and a long-poll reader that
 * both see every message once and in order and stop at the close, and a catch-up read after it.
 */
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../support/server.ts";

const MESSAGES = 300;

describe("@durable-streams/client against the Node server", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer("node", { PUBLISH_RATE_LIMIT: "0", LONG_POLL_TIMEOUT_MS: "1000" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("delivers an idempotent producer's messages once and in order to SSE and long-poll readers, then the end", async () => {
    const url = `${server.url}/v1/stream/client-${Date.now()}`;
    const handle = await DurableStream.create({ url, contentType: "application/json" });

    const follow = async (live: "sse" | "long-poll") => {
      const response = await stream<{ n: number }>({ url, live, json: true });
      const seen: number[] = [];
      for await (const item of response.jsonStream()) seen.push(item.n);
      return { seen, closed: response.streamClosed };
    };
    const readers = [follow("sse"), follow("long-poll")];

    const producer = new IdempotentProducer(handle, "client-test", { lingerMs: 1, maxInFlight: 4 });
    for (let n = 0; n < MESSAGES; n++) producer.append(JSON.stringify({ n }));
    await producer.flush();
    await producer.close(JSON.stringify({ n: MESSAGES }));

    const expected = Array.from({ length: MESSAGES + 1 }, (_, n) => n);
    for (const { seen, closed } of await Promise.all(readers)) {
      expect(seen).toEqual(expected);
      expect(closed).toBe(true);
    }
    const caughtUp = await stream<{ n: number }>({ url, live: false, json: true });
    expect((await caughtUp.json()).map((item) => item.n)).toEqual(expected);
    expect(await handle.head()).toMatchObject({ exists: true, streamClosed: true });
  });
});
