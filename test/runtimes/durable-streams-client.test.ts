/**
 * `@durable-streams/client` (Electric's own client, pinned) writing and reading our streams on a real
 * Node server: an idempotent producer's batches, a live SSE reader and a long-poll reader that
 * both see every message once and in order and stop at the close, and a catch-up read after it; and
 * a channel read as the stream it is (`channels/<name>`), from an event's id on, live.
 */
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatOffset } from "../../src/streams/offset.ts";
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

  it("follows a channel as the stream it is: from an event's id on, over SSE, every event once and in order", async () => {
    const channel = `client-channel-${Date.now()}`;
    const publish = async (n: number) => {
      const response = await fetch(`${server.url}/api/channels/${channel}/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ data: { n }, event: "tick" }),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { id: number }).id;
    };
    const ids: number[] = [];
    for (let n = 0; n < 5; n++) ids.push(await publish(n));

    // From after the second event: the id is the offset.
    const response = await stream<{ id: number; event: string; data: { n: number } }>({
      url: `${server.url}/v1/stream/channels/${channel}`,
      offset: formatOffset(ids[1] as number),
      live: "sse",
      json: true,
    });
    const seen: { id: number; event: string; n: number }[] = [];
    const reading = (async () => {
      for await (const entry of response.jsonStream()) {
        seen.push({ id: entry.id, event: entry.event, n: entry.data.n });
        if (seen.length === 8) break;
      }
    })();
    for (let n = 5; n < 10; n++) ids.push(await publish(n));
    await reading;
    expect(seen).toEqual(ids.slice(2).map((id, index) => ({ id, event: "tick", n: index + 2 })));
  });
});
