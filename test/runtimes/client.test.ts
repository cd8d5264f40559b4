/**
 * edge-sse/client against the real server on every runtime: a private channel followed with a token
 * that expires. The server ends the stream at `exp` (token-expired), the client asks its headers
 * function for a fresh token, reconnects with Last-Event-ID, and has every message once, in order.
 */
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectEventStream } from "../../src/client/index.ts";
import { RUNTIMES, type RunningServer, startServer } from "../support/server.ts";
import { eventually } from "../support/sse-reader.ts";

const SECRET = "a-client-test-secret-of-32-bytes!!";
const TOKEN_SECONDS = 2;

const token = (sse: { publish?: string[]; subscribe?: string[] }, seconds: number) =>
  sign({ sub: "client-test", exp: Math.floor(Date.now() / 1000) + seconds, sse }, SECRET);

describe.each(RUNTIMES)("edge-sse/client on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, {
      AUTH_SECRET: SECRET,
      PUBLISH_RATE_LIMIT: "0",
      RETRY_MS: "200",
      MAX_STREAMS_PER_CLIENT: "0",
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("reconnects with a fresh token when the old one expires and misses nothing", async () => {
    const channel = `private-client-${runtime}-${Date.now()}`;
    const path = `/api/channels/${channel}/messages`;
    const publisher = { authorization: `Bearer ${await token({ publish: [channel] }, 600)}` };
    const published: number[] = [];
    const publish = async (text: string) => {
      const response = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { ...publisher, "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
      expect(response.status).toBe(201);
      published.push(((await response.json()) as { id: number }).id);
    };

    let tokens = 0;
    let opens = 0;
    const received: number[] = [];
    const expired: unknown[] = [];
    const stream = connectEventStream<{ message: { id: number }; "token-expired": unknown }>({
      url: `${server.url}${path}/stream`,
      headers: async () => {
        tokens++;
        return { authorization: `Bearer ${await token({ subscribe: [channel] }, TOKEN_SECONDS)}` };
      },
      onOpen: () => {
        opens++;
      },
    });
    stream.on("message", ({ data }) => received.push(data.id));
    stream.on("token-expired", ({ data }) => expired.push(data));
    try {
      expect(await eventually(async () => opens, 1)).toBe(1);
      for (let i = 0; i < 5; i++) await publish(`before ${i}`);
      // The first token expires; the client comes back with a second one.
      expect(await eventually(async () => opens >= 2, true)).toBe(true);
      for (let i = 0; i < 5; i++) await publish(`after ${i}`);
      expect(await eventually(async () => received.length >= published.length, true)).toBe(true);
      expect(received).toEqual(published);
      expect(expired.length).toBeGreaterThanOrEqual(1);
      expect(tokens).toBeGreaterThanOrEqual(2);
    } finally {
      stream.close();
    }
  });
});
