/**
 * Health probes and metrics in-process (Hono's `app.request`), with the real prom-client and
 * Debian's promtool: the probes answer outside authorization, `/readyz` fails while shutting down
 * or while the hub's backend is unreachable, and the figures move as streams open and close and
 * messages are published. Real Node, Bun and Deno processes: test/runtimes/operations.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import type { Readiness } from "../../src/app/health.ts";
import { createMetrics } from "../../src/app/metrics.ts";
import { DEFAULT_CONFIG, readConfig } from "../../src/config.ts";
import type { Hub } from "../../src/hub/hub.ts";
import { MemoryHub } from "../../src/hub/memory.ts";
import { createLogger, SILENT_LOGGER } from "../../src/log/logger.ts";
import { OpenStreams } from "../../src/sse/index.ts";
import { promtoolCheck, sample } from "../support/metrics.ts";
import { readEvents, type SseReader } from "../support/sse-reader.ts";

const post = (text: string) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ text }),
});

const readers: SseReader[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.cancel().catch(() => undefined)));
});

describe("/healthz and /readyz", () => {
  // Every channel private and publishing limited to one a minute: the probes must not care.
  const config = { ...DEFAULT_CONFIG, authSecret: "k".repeat(32), privateChannels: ["*"], publishRateLimit: 1 };

  it("answer 200 JSON without a token, however often they are asked", async () => {
    const app = createApp(config, { logger: SILENT_LOGGER });
    for (let i = 0; i < 5; i++) {
      const health = await app.request("/healthz");
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
      const ready = await app.request("/readyz");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready" });
    }
    // The same app does want a token elsewhere.
    expect((await app.request("/api/messages")).status).toBe(401);
  });

  it("/readyz answers 503 shutting_down from the signal's drain on and after shutdown, /healthz still 200", async () => {
    const openStreams = new OpenStreams();
    const readiness: Readiness = { draining: false };
    const app = createApp(DEFAULT_CONFIG, { openStreams, readiness, logger: SILENT_LOGGER });
    readiness.draining = true;
    const draining = await app.request("/readyz");
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ error: { code: "shutting_down", message: expect.any(String) } });

    const afterShutdown = createApp(DEFAULT_CONFIG, { openStreams, logger: SILENT_LOGGER });
    openStreams.shutdown();
    expect((await afterShutdown.request("/readyz")).status).toBe(503);
    expect((await afterShutdown.request("/healthz")).status).toBe(200);
  });

  it("/readyz follows the hub's backendStatus: 503 backend_unreachable while it is down", async () => {
    const openStreams = new OpenStreams();
    const status = { backend: "redis", connected: false };
    const hub: Hub = Object.assign(new MemoryHub(10, { ...streamSettings() }, openStreams), {
      backendStatus: () => ({ ...status }),
    });
    const app = createApp(DEFAULT_CONFIG, { hub, openStreams, logger: SILENT_LOGGER });
    const down = await app.request("/readyz");
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ error: { code: "backend_unreachable", message: "redis is not reachable" } });
    status.connected = true;
    const up = await app.request("/readyz");
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: "ready", backend: { backend: "redis", connected: true } });
  });
});

function streamSettings() {
  return { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 };
}

describe("/metrics", () => {
  function appWithMetrics(token = "") {
    const metrics = createMetrics();
    const app = createApp({ ...DEFAULT_CONFIG, metricsToken: token }, { metrics, logger: SILENT_LOGGER });
    const scrape = async () => {
      const response = await app.request("/metrics", { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(response.status).toBe(200);
      return response.text();
    };
    return { app, scrape };
  }

  async function open(app: ReturnType<typeof createApp>, path: string, init?: RequestInit) {
    const reader = readEvents(await app.request(path, init));
    readers.push(reader);
    await reader.opened();
    return reader;
  }

  it("is not there unless metrics are on", async () => {
    expect((await createApp(DEFAULT_CONFIG, { logger: SILENT_LOGGER }).request("/metrics")).status).toBe(404);
  });

  it("answers the Prometheus text format that promtool parses and finds nothing to lint in", async () => {
    const { app, scrape } = appWithMetrics();
    await open(app, "/api/messages/stream");
    await app.request("/api/messages", post("one"));
    const response = await app.request("/metrics");
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const check = promtoolCheck(await response.text());
    expect(check).toEqual({ status: 0, output: "" });
    for (const name of [
      "edge_sse_streams_open",
      "edge_sse_streams_closed_total",
      "edge_sse_messages_published_total",
      "edge_sse_events_delivered_total",
      "edge_sse_publish_duration_seconds",
    ]) {
      expect(await scrape()).toContain(`# TYPE ${name} `);
    }
  });

  it("counts streams open by kind and closed by reason, publishes, deliveries (fan-out and replay) and publish times", async () => {
    const { app, scrape } = appWithMetrics();
    let text = await scrape();
    for (const kind of ["ticker", "feed", "durable-stream", "answer"]) {
      expect(sample(text, "edge_sse_streams_open", `kind="${kind}"`)).toBe(0);
    }
    expect(sample(text, "edge_sse_streams_closed_total", 'reason="overflow"')).toBe(0);
    expect(sample(text, "edge_sse_streams_closed_total", 'reason="deadline"')).toBe(0);

    const feeds = [
      await open(app, "/api/channels/news/messages/stream"),
      await open(app, "/api/channels/news/messages/stream"),
    ];
    await open(app, "/sse?interval=60000");
    text = await scrape();
    expect(sample(text, "edge_sse_streams_open", 'kind="feed"')).toBe(2);
    expect(sample(text, "edge_sse_streams_open", 'kind="ticker"')).toBe(1);

    const ids: number[] = [];
    for (const word of ["a", "b", "c"]) {
      const response = await app.request("/api/channels/news/messages", post(word));
      ids.push(((await response.json()) as { id: number }).id);
    }
    for (const feed of feeds) for (const id of ids) expect((await feed.next()).id).toBe(String(id));
    text = await scrape();
    expect(sample(text, "edge_sse_messages_published_total")).toBe(3);
    expect(sample(text, "edge_sse_events_delivered_total")).toBe(6);
    expect(sample(text, "edge_sse_publish_duration_seconds_count")).toBe(3);
    expect(sample(text, "edge_sse_publish_duration_seconds_bucket", 'le="+Inf"')).toBe(3);

    // A subscriber resuming after the first message is replayed the other two.
    const resumed = await open(app, "/api/channels/news/messages/stream", {
      headers: { "last-event-id": String(ids[0]) },
    });
    expect((await resumed.next()).id).toBe(String(ids[1]));
    expect((await resumed.next()).id).toBe(String(ids[2]));
    expect(sample(await scrape(), "edge_sse_events_delivered_total")).toBe(8);

    await feeds[0]?.cancel();
    text = await scrape();
    expect(sample(text, "edge_sse_streams_open", 'kind="feed"')).toBe(2);
    expect(sample(text, "edge_sse_streams_closed_total", 'reason="client-cancel"')).toBe(1);
    // A refused publish is no publish.
    expect((await app.request("/api/channels/news/messages", post(""))).status).toBe(400);
    expect(sample(await scrape(), "edge_sse_messages_published_total")).toBe(3);
  });

  it("wants METRICS_TOKEN as a bearer token when it is set", async () => {
    const token = "metrics-token-0123456789";
    const { app, scrape } = appWithMetrics(token);
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: token },
      { authorization: `Basic ${token}` },
    ];
    for (const headers of attempts) {
      const refused = await app.request("/metrics", { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await refused.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    }
    expect(await scrape()).toContain("edge_sse_streams_open");
  });
});

describe("the app's log", () => {
  it("writes an unhandled error as one error line with method and path (never the query), and answers 500", async () => {
    const lines: string[] = [];
    const logger = createLogger("info", (_level, line) => lines.push(line));
    const openStreams = new OpenStreams();
    const hub: Hub = Object.assign(new MemoryHub(10, streamSettings(), openStreams), {
      publish: () => Promise.reject(new Error("disk on fire")),
    });
    const app = createApp(DEFAULT_CONFIG, { hub, openStreams, logger });
    const response = await app.request("/api/channels/news/messages?authorization=not-for-logs", post("x"));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: "internal", message: "internal server error" } });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      level: "error",
      message: "unhandled error",
      method: "POST",
      path: "/api/channels/news/messages",
      error: { name: "Error", message: "disk on fire" },
    });
    expect(lines[0]).not.toContain("not-for-logs");
  });
});

describe("readConfig for operations", () => {
  it("reads METRICS, METRICS_TOKEN, LOG_LEVEL and SHUTDOWN_DELAY_MS, off, empty, info and 0 by default", () => {
    expect(readConfig({})).toMatchObject({ metrics: false, metricsToken: "", logLevel: "info", shutdownDelayMs: 0 });
    expect(
      readConfig({ METRICS: "on", METRICS_TOKEN: " t ", LOG_LEVEL: "DEBUG", SHUTDOWN_DELAY_MS: "5000" }),
    ).toMatchObject({ metrics: true, metricsToken: " t ", logLevel: "debug", shutdownDelayMs: 5000 });
  });

  it.each([
    ["METRICS", "yes", /METRICS must be on or off/],
    ["LOG_LEVEL", "verbose", /LOG_LEVEL must be one of error, warn, info, debug/],
    ["SHUTDOWN_DELAY_MS", "-1", /SHUTDOWN_DELAY_MS must be a whole number/],
  ])("stops start-up on %s=%s with its name", (name, value, message) => {
    expect(() => readConfig({ [name]: value })).toThrow(message);
  });
});
