/**
 * Authorization inside workerd: the app built here with AUTH_SECRET set, over the real Durable
 * Object hub, verifies tokens with workerd's WebCrypto (hono/jwt). The Worker's own app, which the
 * other workers tests use, stays with authorization off.
 */
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { readConfig } from "../../src/config.ts";
import { type ChannelObject, DurableObjectHub, DurableObjectLog } from "../../src/hub/durable-object/index.ts";
import { readEvents } from "../support/sse-reader.ts";

const SECRET = "a-workers-test-secret-of-32-bytes!!";
const config = readConfig({ AUTH_SECRET: SECRET, PUBLISH_RATE_LIMIT: "2" });
const app = createApp(config, {
  hub: new DurableObjectHub(env, config),
  log: new DurableObjectLog(env),
  clientAddress: (c) => c.req.header("cf-connecting-ip"),
});
const request = (path: string, init?: RequestInit) => app.request(`http://edge-sse.test${path}`, init, env);

const token = (sse: { publish?: string[]; subscribe?: string[] }, sub = "worker-test") =>
  sign({ sub, exp: Math.floor(Date.now() / 1000) + 60, sse }, SECRET);

let channels = 0;
const privateChannel = () => `/api/channels/private-w${++channels}-${Date.now()}/messages`;

const post = (channel: string, headers: Record<string, string> = {}) =>
  request(channel, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ text: "secret" }),
  });

describe("authorization in workerd", () => {
  it("refuses a private channel's stream without a token or with one for another channel", async () => {
    const channel = privateChannel();
    const none = await request(`${channel}/stream`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect(await none.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    const other = await request(`${channel}/stream?authorization=${await token({ subscribe: ["private-else"] })}`);
    expect(other.status).toBe(403);
    expect(await other.json()).toEqual({ error: { code: "forbidden", message: expect.any(String) } });
  });

  it("guards a private channel's stream at /v1/stream as the channel: its subscribe grant, no other", async () => {
    const channel = privateChannel();
    const name = channel.split("/")[3] as string;
    const publisher = await token({ publish: [name] });
    expect((await post(channel, { authorization: `Bearer ${publisher}` })).status).toBe(201);
    const path = `/v1/stream/channels/${name}?offset=-1`;
    expect((await request(path)).status).toBe(401);
    const other = await token({ subscribe: ["private-else"] });
    expect((await request(path, { headers: { authorization: `Bearer ${other}` } })).status).toBe(403);
    const reader = await token({ subscribe: [name] });
    const read = await request(path, { headers: { authorization: `Bearer ${reader}` } });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual([
      expect.objectContaining({ id: 1, data: expect.objectContaining({ text: "secret" }) }),
    ]);
  });

  it("refuses a publish without the right token and stores nothing", async () => {
    const channel = privateChannel();
    expect((await post(channel)).status).toBe(401);
    const wrong = await post(channel, { authorization: `Bearer ${await token({ publish: ["news"] })}` });
    expect(wrong.status).toBe(403);
    const tampered = `${await token({ publish: ["*"] })}x`;
    expect((await post(channel, { authorization: `Bearer ${tampered}` })).status).toBe(401);
    const reader = await token({ subscribe: ["private-*"] });
    const listed = await request(channel, { headers: { authorization: `Bearer ${reader}` } });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ messages: [] });
  });

  it("streams a private channel to its token (query and cookie) and delivers an authorized publish", async () => {
    const channel = privateChannel();
    const name = channel.split("/")[3] as string;
    const reader = await token({ subscribe: [name] });
    const byQuery = readEvents(await request(`${channel}/stream?authorization=${reader}`));
    const byCookie = readEvents(
      await request(`${channel}/stream`, { headers: { cookie: `edge_sse_token=${reader}` } }),
    );
    await byQuery.opened();
    await byCookie.opened();
    const sent = await post(channel, { authorization: `Bearer ${await token({ publish: ["private-*"] })}` });
    expect(sent.status).toBe(201);
    const { id } = (await sent.json()) as { id: number };
    for (const events of [byQuery, byCookie]) {
      const event = await events.next();
      expect(Number(event.id)).toBe(id);
      expect(JSON.parse(event.data)).toMatchObject({ text: "secret" });
      await events.cancel();
    }
  });

  it("passes a stream's ?authorization= token no further than the Worker: the object sees no query", async () => {
    const forwarded: string[] = [];
    const recording = {
      idFromName: (name: string) => env.CHANNELS.idFromName(name),
      get: () => ({
        fetch: async (url: string, init?: RequestInit) => {
          const request = new Request(url, init);
          forwarded.push(request.url, ...[...request.headers].map(([name, value]) => `${name}: ${value}`));
          // A cap's refusal, so the app answers at once without a socket.
          return new Response(null, { status: 503, headers: { "x-edge-sse-refused": "streams" } });
        },
      }),
    } as unknown as DurableObjectNamespace<ChannelObject>;
    const recordedConfig = readConfig({ AUTH_SECRET: SECRET });
    const recorded = createApp(recordedConfig, {
      hub: new DurableObjectHub({ CHANNELS: recording, CHANNEL_SHARDS: env.CHANNEL_SHARDS }, recordedConfig),
    });
    const reader = await token({ subscribe: ["private-*"] });
    const url = `http://edge-sse.test/api/channels/private-x/messages/stream?authorization=${reader}&lastEventId=1`;
    expect((await recorded.request(url, {}, env)).status).toBe(503);
    expect(forwarded.length).toBeGreaterThan(0);
    for (const line of forwarded) expect(line).not.toContain(reader);
    expect(forwarded[0]).not.toContain("?");
  });

  it("ends a private stream when its token expires: token-expired with a retry, then the end", async () => {
    const channel = privateChannel();
    const expiring = await sign(
      { sub: "expiring", exp: Math.floor(Date.now() / 1000) + 2, sse: { subscribe: [channel.split("/")[3]] } },
      SECRET,
    );
    const response = await request(`${channel}/stream?authorization=${expiring}`);
    expect(response.status).toBe(200);
    const events = readEvents(response);
    const ended = await events.next();
    expect(ended.event).toBe("token-expired");
    expect(events.retries.at(-1)).toBe(config.retryMs);
    await expect(events.next()).rejects.toThrow("stream ended");
  });

  it("limits publishes per token subject with 429 and Retry-After", async () => {
    const channel = privateChannel();
    const publisher = { authorization: `Bearer ${await token({ publish: ["*"] }, "busy")}` };
    expect((await post(channel, publisher)).status).toBe(201);
    expect((await post(channel, publisher)).status).toBe(201);
    const limited = await post(channel, publisher);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await limited.json()).toEqual({ error: { code: "rate_limited", message: expect.any(String) } });
    const other = { authorization: `Bearer ${await token({ publish: ["*"] }, "calm")}` };
    expect((await post(channel, other)).status).toBe(201);
  });
});
