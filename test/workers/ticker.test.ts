/**
 * The Worker inside workerd (miniflare, via the Cloudflare vitest integration), with
 * wrangler.toml's compatibility flags and static assets.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventually, readEvents } from "../support/sse-reader.ts";

const BASE = "http://edge-sse.test";
const get = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`${BASE}${path}`, init));
const activeStreams = async () => ((await (await get("/api/stats")).json()) as { activeStreams: number }).activeStreams;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe.each([
  ["/sse", "Middleware"],
  ["/api/sse", "Controller"],
])("GET %s in workerd", (path, label) => {
  it("answers with SSE headers and sends the first event at once", async () => {
    const response = await get(`${path}?interval=60000`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    const events = readEvents(response);
    const first = await events.next();
    const [prefix, time] = first.data.split(" at ");
    expect(first.id).toBe("0");
    expect(prefix).toBe(`${label} 0`);
    expect(time).toMatch(ISO_TIME);
    expect(events.retries).toEqual([3000]);
    await events.cancel();
  });

  it("counts up one event per interval", async () => {
    const events = readEvents(await get(`${path}?interval=100`));
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await events.next()).id);
    expect(ids).toEqual(["0", "1", "2"]);
    await events.cancel();
  });

  it("continues after the Last-Event-ID a reconnecting client sends", async () => {
    const events = readEvents(await get(`${path}?interval=60000`, { headers: { "last-event-id": "41" } }));
    const first = await events.next();
    expect(first.id).toBe("42");
    expect(first.data.startsWith(`${label} 42 at `)).toBe(true);
    await events.cancel();
  });

  it.each(["99", "60001", "abc", "1.5", "", "-100", "1e3", "0x64"])(
    "rejects ?interval=%s with a JSON 400",
    async (value) => {
      const response = await get(`${path}?interval=${encodeURIComponent(value)}`);
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("invalid_query");
      expect(body.error.message).toMatch(/interval/);
    },
  );

  it("rejects a repeated ?interval= with a JSON 400", async () => {
    const response = await get(`${path}?interval=100&interval=200`);
    expect(response.status).toBe(400);
  });

  it("frees the stream after the client cancels", async () => {
    const before = await activeStreams();
    const events = readEvents(await get(`${path}?interval=100`));
    await events.next();
    expect(await activeStreams()).toBe(before + 1);
    await events.cancel();
    // workerd notices the departure at the stream's next write (every 100 ms here).
    expect(await eventually(activeStreams, before)).toBe(before);
  });
});

describe("the Worker's errors", () => {
  it("answers unknown paths with the JSON error shape", async () => {
    const response = await get("/no-such-thing");
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: "not_found", message: "no route for GET /no-such-thing" } });
  });
});
