/**
 * edge-sse/client through a real nginx (the reverse proxy docs/deploy.md shows) in front of the app
 * on Redis: it reads a channel's stream, and when the connection drops, nginx restarted or the
 * upstream server killed with SIGKILL and started again, it comes back through nginx (past its error
 * pages and refused connections) and resumes with Last-Event-ID: what was published meanwhile, on
 * another process of the same Redis, arrives once and in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectEventStream, type EventStreamClient } from "../../src/client/index.ts";
import { type RunningNginx, startNginx } from "../support/nginx.ts";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { type RunningServer, startServer } from "../support/server.ts";
import { eventually, PATIENCE_MS } from "../support/sse-reader.ts";

const READ_TIMEOUT_SECONDS = 60;

describe("edge-sse/client through nginx, Node on Redis", () => {
  let redis: RunningRedis | undefined;
  /** Behind nginx; killed and started again by a test. */
  let upstream: RunningServer | undefined;
  /** On the same Redis, not behind nginx: where the tests publish, whatever happens to the other. */
  let publisher: RunningServer | undefined;
  let nginx: RunningNginx | undefined;
  let settings: Record<string, string>;

  beforeAll(async () => {
    redis = await startRedis();
    settings = { REDIS_URL: redis.url, PUBLISH_RATE_LIMIT: "0" };
    const started = await Promise.allSettled([startServer("node", settings), startServer("node", settings)]);
    if (started[0].status === "fulfilled") upstream = started[0].value;
    if (started[1].status === "fulfilled") publisher = started[1].value;
    // Rethrown after both settled, so afterAll can stop whichever did start.
    for (const result of started) if (result.status === "rejected") throw result.reason;
    nginx = await startNginx((upstream as RunningServer).url, { readTimeoutSeconds: READ_TIMEOUT_SECONDS });
  });
  afterAll(async () => {
    await Promise.allSettled([nginx?.stop(), upstream?.stop(), publisher?.stop()]);
    await redis?.dispose();
  });

  const subscribers = async (channel: string) =>
    ((await (await fetch(`${upstream!.url}/api/channels/${channel}/messages/stats`)).json()) as { subscribers: number })
      .subscribers;

  async function publish(channel: string, count: number, into: number[]): Promise<void> {
    for (let i = 0; i < count; i++) {
      const response = await fetch(`${publisher!.url}/api/channels/${channel}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: `m${into.length}` }),
      });
      if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
      into.push(((await response.json()) as { id: number }).id);
    }
  }

  /** Follows `channel` through nginx, noting every message id and every dropped connection. */
  function follow(channel: string) {
    const ids: number[] = [];
    const seen = { opens: 0, errors: 0 };
    const client: EventStreamClient = connectEventStream({
      url: `${nginx!.url}/api/channels/${channel}/messages/stream`,
      // The server's retry: (3 s) is the base; at most 500 ms between tries keeps the test short.
      backoff: { maxMs: 500 },
      onOpen: () => seen.opens++,
      onError: () => seen.errors++,
    });
    client.on("message", ({ data }) => ids.push((data as { id: number }).id));
    const count = async () => ids.length;
    return { ids, seen, client, count };
  }

  it("resumes with Last-Event-ID after nginx is restarted, with what was published meanwhile", async () => {
    const channel = `client-nginx-restart-${Date.now()}`;
    const reader = follow(channel);
    try {
      const published: number[] = [];
      // Subscribed (its first connection has no id to resume from): what is published now reaches it.
      expect(await eventually(() => subscribers(channel), 1)).toBe(1);
      await publish(channel, 3, published);
      expect(await eventually(reader.count, 3)).toBe(3);

      const port = Number(new URL(nginx!.url).port);
      await nginx!.stop(); // SIGTERM: nginx's fast shutdown closes every connection at once
      nginx = undefined;
      expect(await eventually(async () => reader.seen.errors > 0, true)).toBe(true);
      await publish(channel, 3, published);
      nginx = await startNginx(upstream!.url, { readTimeoutSeconds: READ_TIMEOUT_SECONDS, port });
      expect(await eventually(reader.count, 6)).toBe(6);
      await publish(channel, 2, published);
      expect(await eventually(reader.count, 8)).toBe(8);
      expect(reader.ids).toEqual(published);
      expect(reader.seen.opens).toBeGreaterThanOrEqual(2);
    } finally {
      reader.client.close();
    }
  });

  it("resumes with Last-Event-ID through nginx after the upstream server is killed and started again", async () => {
    const channel = `client-nginx-upstream-${Date.now()}`;
    const reader = follow(channel);
    try {
      const published: number[] = [];
      // Subscribed (its first connection has no id to resume from): what is published now reaches it.
      expect(await eventually(() => subscribers(channel), 1)).toBe(1);
      await publish(channel, 3, published);
      expect(await eventually(reader.count, 3)).toBe(3);

      const port = Number(new URL(upstream!.url).port);
      upstream!.signal("SIGKILL"); // the upstream connection dies with its process, nothing said
      expect(await upstream!.exited(PATIENCE_MS)).toBe(true);
      upstream = undefined;
      expect(await eventually(async () => reader.seen.errors > 0, true)).toBe(true);
      await publish(channel, 3, published);
      // Meanwhile nginx answers 502: the client keeps trying.
      const errorsWhileDown = reader.seen.errors;
      expect(await eventually(async () => reader.seen.errors > errorsWhileDown, true)).toBe(true);
      upstream = await startServer("node", settings, { port });
      expect(await eventually(reader.count, 6)).toBe(6);
      await publish(channel, 2, published);
      expect(await eventually(reader.count, 8)).toBe(8);
      expect(reader.ids).toEqual(published);
    } finally {
      reader.client.close();
    }
  });
});
