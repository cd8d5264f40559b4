/**
 * In memory, a channel is a stream of the app's log (src/hub/channel-log.ts): the checks every
 * backend runs (test/support/channel-streams.ts), on the demo app in-process, and who may read it.
 */
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { readConfig } from "../../src/config.ts";
import type { AppFetch } from "../support/channel-events.ts";
import {
  checkChannelEntries,
  checkChannelLive,
  checkChannelRetention,
  checkChannelStreamReadOnly,
} from "../support/channel-streams.ts";

const fetchOf =
  (env: Record<string, string> = {}): AppFetch =>
  async (path, init) =>
    createAppOnce(env).request(path, init);

const apps = new Map<string, ReturnType<typeof createApp>>();
function createAppOnce(env: Record<string, string>) {
  const key = JSON.stringify(env);
  let app = apps.get(key);
  if (app === undefined) {
    app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "0", ...env }));
    apps.set(key, app);
  }
  return app;
}

describe("a channel's stream in memory", () => {
  it("holds every event at the offset of its id, as published", () => checkChannelEntries(fetchOf(), "entries"));
  it("keeps what the channel keeps (HISTORY_LIMIT)", () =>
    checkChannelRetention(fetchOf({ HISTORY_LIMIT: "5" }), "kept", 5));
  it("is followed live over SSE", () => checkChannelLive(fetchOf(), "followed"));
  it("is written only by publishing to the channel", () => checkChannelStreamReadOnly(fetchOf(), "written"));

  it("is read as the channel is subscribed to: a private channel's stream needs a token that names the channel", async () => {
    const secret = "a-test-secret-that-is-32-bytes-long!";
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "0", AUTH_SECRET: secret, PRIVATE_CHANNELS: "private-*" }));
    const token = (sse: { publish?: string[]; subscribe?: string[] }) =>
      sign({ sub: "tester", exp: Math.floor(Date.now() / 1000) + 60, sse }, secret);
    const published = await app.request("/api/channels/private-x/events", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await token({ publish: ["private-x"] })}`,
      },
      body: JSON.stringify({ data: "secret" }),
    });
    expect(published.status).toBe(201);
    const path = "/v1/stream/channels/private-x?offset=-1";
    expect((await app.request(path)).status).toBe(401);
    const other = await token({ subscribe: ["private-y", "channels/private-x"] });
    expect((await app.request(path, { headers: { authorization: `Bearer ${other}` } })).status).toBe(403);
    const allowed = await app.request(path, {
      headers: { authorization: `Bearer ${await token({ subscribe: ["private-x"] })}` },
    });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { data: unknown }[]).map((entry) => entry.data)).toEqual(["secret"]);
  });
});
