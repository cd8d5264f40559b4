/**
 * Several channels in one stream inside workerd: the Worker holds the stream and one socket per
 * channel object. The cases are test/support/channel-set-cases.ts, as on every other backend.
 */
import { abortAllDurableObjects } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { readConfig } from "../../src/config.ts";
import { DurableObjectHub } from "../../src/hub/durable-object/index.ts";
import {
  type ChannelSetTarget,
  endsWhenTokenExpires,
  everyMessageOnceInOrder,
  freshChannels,
  open,
  publish,
  readMessages,
  refusesBadCursors,
  refusesUnauthorizedChannel,
  resumesFromCursor,
  streamPath,
  subscribers,
  truncatedPerChannel,
  withAdminToken,
} from "../support/channel-set-cases.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

const BASE = "http://edge-sse.test";
// The Worker's own app, with vitest.config.mts's bindings (HISTORY_LIMIT 100).
const worker: ChannelSetTarget = {
  request: (path, init) => exports.default.fetch(new Request(`${BASE}${path}`, init)),
  historyLimit: 100,
};

describe("GET /api/stream in workerd (Durable Objects)", () => {
  it("delivers every message of each channel once and in order under concurrent publishers", () =>
    everyMessageOnceInOrder(worker));

  it("resumes each channel after its own position in the cursor", () => resumesFromCursor(worker));

  it("announces history-truncated only for the channel whose history no longer reaches the cursor", () =>
    truncatedPerChannel(worker));

  it("answers a forged or malformed cursor with 400 invalid_cursor and follows nothing", () =>
    refusesBadCursors(worker));

  it("misses nothing and repeats nothing across a reset of the channels' objects", async () => {
    const channels = freshChannels(2);
    const [a, b] = channels as [string, string];
    const opened = await open(worker, channels);
    const sent = [`${a}:${await publish(worker, a, "a1")}`];
    const seen = (await readMessages(opened.reader, 1)).messages;
    await abortAllDurableObjects();
    sent.push(`${b}:${await publish(worker, b, "b1")}`, `${a}:${await publish(worker, a, "a2")}`);
    // The Worker's sockets reconnect to the new objects and carry on; or, if they cannot, the stream
    // ends with a retry and the client comes back with its cursor. Either way: each message once.
    let reader = opened.reader;
    let cursor = seen[0]?.cursor as string;
    while (seen.length < sent.length) {
      try {
        const next = (await readMessages(reader, 1)).messages[0] as (typeof seen)[number];
        seen.push(next);
        cursor = next.cursor;
      } catch (error) {
        if ((error as Error).message !== "stream ended") throw error;
        reader = (await open(worker, channels, { "last-event-id": cursor })).reader;
      }
    }
    await reader.cancel();
    expect(seen.map((message) => `${message.channel}:${message.id}`).sort()).toEqual([...sent].sort());
    expect(seen.filter((message) => message.channel === a).map((message) => message.text)).toEqual(["a1", "a2"]);
  });

  it("lets go of every channel's socket when the client leaves", async () => {
    const channels = freshChannels(3);
    const reader = readEvents(await worker.request(streamPath(channels)));
    expect((await reader.next()).event).toBe("cursor");
    for (const channel of channels) expect(await subscribers(worker, channel)).toBe(1);
    await reader.cancel();
    for (const channel of channels) expect(await eventually(() => subscribers(worker, channel), 0)).toBe(0);
  });
});

describe("GET /api/stream in workerd with authorization on", () => {
  const SECRET = "a-workers-test-secret-of-32-bytes!!";
  const config = readConfig({ AUTH_SECRET: SECRET, PUBLISH_RATE_LIMIT: "0" });
  const app = createApp(config, { hub: new DurableObjectHub(env, config) });
  const target = withAdminToken(
    { historyLimit: 100, request: async (path, init) => app.request(`${BASE}${path}`, init, env) },
    () => sign({ sub: "admin", sse: { publish: ["*"], subscribe: ["*"] } }, SECRET),
  );
  const token = (subscribe: string[], exp = Math.floor(Date.now() / 1000) + 60) =>
    sign({ sub: "reader", exp, sse: { subscribe } }, SECRET);

  it("refuses the whole stream with 403 naming the refused channel, and streams nothing", () =>
    refusesUnauthorizedChannel(target, token));

  it("ends when the token expires, with token-expired, and sends nothing published after", () =>
    endsWhenTokenExpires(target, token));
});
