/**
 * Several channels in one stream inside workerd: the Worker holds the stream and one socket per
 * channel object. The cases are test/support/channel-set-cases.ts, as on every other backend.
 */
import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { readConfig } from "../../src/config.ts";
import { DurableObjectHub } from "../../src/hub/durable-object/index.ts";
import {
  type ChannelSetTarget,
  everyMessageOnceInOrder,
  freshChannels,
  publish,
  readMessages,
  readUntilEnd,
  refusesBadCursors,
  resumesFromCursor,
  streamPath,
  subscribers,
  truncatedPerChannel,
} from "../support/channel-set-cases.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

const BASE = "http://edge-sse.test";
// The Worker's own app, with vitest.config.mts's bindings (HISTORY_LIMIT 250).
const worker: ChannelSetTarget = {
  request: (path, init) => exports.default.fetch(new Request(`${BASE}${path}`, init)),
  historyLimit: 250,
};

describe("GET /api/stream in workerd (Durable Objects)", () => {
  it("delivers every message of each channel once and in order under concurrent publishers", () =>
    everyMessageOnceInOrder(worker));

  it("resumes each channel after its own position in the cursor", () => resumesFromCursor(worker));

  it("announces history-truncated only for the channel whose history no longer reaches the cursor", () =>
    truncatedPerChannel(worker));

  it("answers a forged or malformed cursor with 400 invalid_cursor and follows nothing", () =>
    refusesBadCursors(worker));

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
  const target: ChannelSetTarget = {
    historyLimit: 250,
    request: async (path, init) => {
      if (init?.method !== "POST" && !path.endsWith("/stats")) return app.request(`${BASE}${path}`, init, env);
      const admin = await sign({ sub: "admin", sse: { publish: ["*"], subscribe: ["*"] } }, SECRET);
      const headers = { ...init?.headers, authorization: `Bearer ${admin}` };
      return app.request(`${BASE}${path}`, { ...init, headers }, env);
    },
  };
  const token = (subscribe: string[], exp = Math.floor(Date.now() / 1000) + 60) =>
    sign({ sub: "reader", exp, sse: { subscribe } }, SECRET);

  it("refuses the whole stream with 403 naming the refused channel, and streams nothing", async () => {
    const [allowed, refused] = freshChannels(2, "private-") as [string, string];
    const response = await target.request(streamPath(["public", allowed, refused]), {
      headers: { authorization: `Bearer ${await token([allowed])}` },
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: { code: "forbidden", message: `the token does not allow reading channel ${refused}` },
    });
    for (const channel of [allowed, refused]) expect(await subscribers(target, channel)).toBe(0);
  });

  it("ends when the token expires, with token-expired, and sends nothing published after", async () => {
    const [mine] = freshChannels(1, "private-") as [string];
    const exp = Math.floor(Date.now() / 1000) + 2;
    const response = await target.request(streamPath([mine], `&authorization=${await token([mine], exp)}`));
    expect(response.status).toBe(200);
    const reader = readEvents(response);
    expect((await reader.next()).event).toBe("cursor");
    await publish(target, mine, "before");
    expect((await readMessages(reader, 1)).messages[0]?.channel).toBe(mine);
    const rest = await readUntilEnd(reader);
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(rest.map((event) => event.event)).toEqual(["token-expired"]);
    expect(await eventually(() => subscribers(target, mine), 0)).toBe(0);
  });
});
