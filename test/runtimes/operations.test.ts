/**
 * Operations on real Node, Bun and Deno servers: `/healthz` and `/readyz` (503 from SIGTERM on,
 * while a stream is open), `/metrics` behind METRICS_TOKEN as promtool reads it, its figures moving
 * as real streams open and close and messages are published, and the JSON log lines: a stream
 * dropped for overflow is one warn line with its reason, channel and client address; LOG_LEVEL=error
 * silences info; no token or secret ever appears in any line, even at debug.
 */
import type { Socket } from "node:net";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { promtoolCheck, sample } from "../support/metrics.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";
import { silentSubscriber } from "../support/silent-subscriber.ts";
import { eventually, readEvents, type SseReader } from "../support/sse-reader.ts";

const RUNTIMES: Runtime[] = ["node", "bun", "deno"];
const SECRET = "an-operations-test-secret-of-32-bytes";
const METRICS_TOKEN = "metrics-token-of-the-operations-test";
const SHUTDOWN_DELAY_MS = 10_000;

const token = (channels: string[]) =>
  sign({ exp: Math.floor(Date.now() / 1000) + 300, sse: { publish: channels, subscribe: channels } }, SECRET);

/** The JSON lines a server wrote (stdout and stderr are recorded together; its log is on stderr). */
function logLines(server: RunningServer): Record<string, unknown>[] {
  return server
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.each(RUNTIMES)("operations on %s", (runtime) => {
  let server: RunningServer;
  let publishToken: string;
  const readers: SseReader[] = [];
  const sockets: Socket[] = [];
  beforeAll(async () => {
    publishToken = await token(["*"]);
    server = await startServer(runtime, {
      AUTH_SECRET: SECRET,
      METRICS: "on",
      METRICS_TOKEN,
      LOG_LEVEL: "debug",
      PUBLISH_RATE_LIMIT: "0",
      // A small queue and no stall rule: the silent client below is dropped for overflow.
      MAX_BUFFERED_BYTES: "65536",
      KEEP_ALIVE_MS: "60000",
      SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
    });
  });
  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(readers.splice(0).map((reader) => reader.cancel().catch(() => undefined)));
    await server?.stop();
  });

  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    return response.text();
  };
  const publish = async (channel: string, text: string) => {
    const response = await fetch(`${server.url}/api/channels/${channel}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${publishToken}` },
      body: JSON.stringify({ text }),
    });
    if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { id: number }).id;
  };
  const open = async (path: string) => {
    const reader = readEvents(await fetch(`${server.url}${path}`));
    readers.push(reader);
    await reader.opened();
    return reader;
  };

  it("logs its start-up as one JSON line: runtime, address, hub and settings, secrets only as set or not", () => {
    const started = logLines(server).find((line) => line.runtime === runtime);
    expect(started).toMatchObject({
      level: "info",
      address: `${server.url}/`,
      hub: "memory",
      settings: { metrics: true, logLevel: "debug", authSecretSet: true, metricsTokenSet: true },
    });
  });

  it("answers /healthz and /readyz with 200 JSON, without a token", async () => {
    for (const path of ["/healthz", "/readyz"]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    }
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: "ready" });
  });

  it("serves /metrics only with METRICS_TOKEN, in a format promtool parses and finds nothing to lint in", async () => {
    for (const authorization of [undefined, "Bearer a-guess"]) {
      const response = await fetch(`${server.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const exposition = await response.text();
    expect(promtoolCheck(exposition)).toEqual({ status: 0, output: "" });
    // prom-client's process figures work on this runtime too. (Memory figures read 0 on Deno: it
    // lets only --allow-all read /proc/self, see docs/operations.md.)
    expect(sample(exposition, "process_cpu_seconds_total")).toBeGreaterThan(0);
  });

  it("moves its figures as real streams open and close and messages are published", async () => {
    const before = await scrape();
    const figure = (text: string, name: string, labels = "") => sample(text, name, labels) ?? Number.NaN;
    const change = async (name: string, labels = "") =>
      figure(await scrape(), name, labels) - figure(before, name, labels);

    const feeds = [await open("/api/channels/ops/messages/stream"), await open("/api/channels/ops/messages/stream")];
    await open("/sse?interval=60000");
    expect(await change("edge_sse_streams_open", 'kind="feed"')).toBe(2);
    expect(await change("edge_sse_streams_open", 'kind="ticker"')).toBe(1);

    const ids = [await publish("ops", "a"), await publish("ops", "b"), await publish("ops", "c")];
    for (const feed of feeds) for (const id of ids) expect((await feed.next()).id).toBe(String(id));
    expect(await change("edge_sse_messages_published_total")).toBe(3);
    expect(await change("edge_sse_events_delivered_total")).toBe(6);
    expect(await change("edge_sse_publish_duration_seconds_count")).toBe(3);

    await feeds[0]?.cancel();
    expect(await eventually(() => change("edge_sse_streams_closed_total", 'reason="client-cancel"'), 1)).toBe(1);
    expect(await change("edge_sse_streams_open", 'kind="feed"')).toBe(1);
  });

  it("logs a stream dropped for overflow as one warn line with its reason, channel and client address", async () => {
    const channel = "slow";
    const dropLines = () => logLines(server).filter((line) => line.message === "stream dropped");
    const overflowsBefore = sample(await scrape(), "edge_sse_streams_closed_total", 'reason="overflow"') ?? 0;
    sockets.push(await silentSubscriber(new URL(`${server.url}/api/channels/${channel}/messages/stream`)));
    // About 6 KB a message: the kernel's socket buffers fill, then the 64 KiB queue overflows.
    const text = "€".repeat(1990);
    for (let sent = 0; sent < 4_000 && dropLines().length === 0; sent += 20) {
      await Promise.all(Array.from({ length: 20 }, () => publish(channel, text)));
    }
    expect(await eventually(async () => dropLines().length, 1)).toBe(1);
    expect(dropLines()[0]).toMatchObject({
      level: "warn",
      reason: "overflow",
      kind: "feed",
      channel,
      client: "127.0.0.1",
      detail: expect.stringContaining("unread"),
    });
    expect(sample(await scrape(), "edge_sse_streams_closed_total", 'reason="overflow"')).toBe(overflowsBefore + 1);
  });

  it("writes no token or secret in any log line, even at debug", async () => {
    const privateToken = await token(["private-ops"]);
    const forged = await sign({ exp: Math.floor(Date.now() / 1000) + 300, sse: { subscribe: ["*"] } }, "x".repeat(32));
    const stream = `${server.url}/api/channels/private-ops/messages/stream`;
    const attempts: [string, RequestInit][] = [
      [stream, { headers: { authorization: `Bearer ${privateToken}` } }],
      [`${stream}?authorization=${privateToken}`, {}],
      [stream, { headers: { cookie: `edge_sse_token=${privateToken}` } }],
      [stream, { headers: { authorization: `Bearer ${forged}` } }],
      [`${stream}?authorization=${forged}`, {}],
      [`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } }],
    ];
    for (const [url, init] of attempts) {
      const response = await fetch(url, init);
      await response.body?.cancel();
    }
    await publish("private-ops", "secret-free");
    await eventually(async () => logLines(server).filter((line) => line.path === "/metrics").length > 3, true);
    const output = server.output();
    expect(output).toContain("private-ops"); // the requests were logged...
    for (const secret of [SECRET, METRICS_TOKEN, publishToken, privateToken, forged]) {
      expect(output).not.toContain(secret); // ...and no secret with them
      expect(output).not.toContain(secret.split(".").at(-1)); // not even a JWT's signature
    }
  });

  it("on SIGTERM answers /readyz with 503 while it still serves the open stream, then ends it and exits", async () => {
    const reader = await open("/api/channels/last/messages/stream");
    server.signal("SIGTERM");
    const ready = async () => (await fetch(`${server.url}/readyz`)).status;
    expect(await eventually(ready, 503, SHUTDOWN_DELAY_MS / 2)).toBe(503);
    expect(((await (await fetch(`${server.url}/readyz`)).json()) as { error: { code: string } }).error.code).toBe(
      "shutting_down",
    );
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // Still served as usual until the delay is over.
    const id = await publish("last", "while draining");
    expect((await reader.next()).id).toBe(String(id));
    expect(await server.exited(SHUTDOWN_DELAY_MS + 30_000)).toBe(true);
    await expect(reader.next()).rejects.toThrow("stream ended"); // read to its end
    expect(reader.comments).toContain("server shutting down");
    const messages = logLines(server).map((line) => String(line.message));
    const draining = messages.indexOf(`SIGTERM: not ready any more; stopping in ${SHUTDOWN_DELAY_MS} ms`);
    const stopped = messages.findIndex((message) => /^SIGTERM: stopped accepting and ended \d+ streams/.test(message));
    expect(draining).toBeGreaterThanOrEqual(0);
    expect(stopped).toBeGreaterThan(draining);
  });
});

describe.each(RUNTIMES)("LOG_LEVEL=error on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, { LOG_LEVEL: "error" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("writes no info, warn or debug line through start-up, streams, publishes and shutdown", async () => {
    const reader = readEvents(await fetch(`${server.url}/api/messages/stream`));
    await reader.opened();
    const response = await fetch(`${server.url}/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "quiet" }),
    });
    expect(response.status).toBe(201);
    await reader.next();
    server.signal("SIGTERM");
    expect(await server.exited(30_000)).toBe(true);
    await expect(reader.next()).rejects.toThrow("stream ended"); // read to its end
    expect(reader.comments).toContain("server shutting down");
    // At the default level these would be there: the start-up line and the shutdown's.
    expect(server.output()).not.toContain('"level":"info"');
    expect(server.output()).not.toContain('"level":"warn"');
    expect(server.output()).not.toContain('"level":"debug"');
    expect(server.output()).not.toContain("stopped accepting");
  });
});

describe("logs on workerd (wrangler dev)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(
      "workerd",
      { LOG_LEVEL: "debug", AUTH_SECRET: SECRET, METRICS: "on", METRICS_TOKEN },
      { wranglerLogLevel: "log" },
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("writes the same JSON lines as the servers, at the level asked for, with no secret, and has no /metrics", async () => {
    const streamToken = await token(["private-ops"]);
    const stream = await fetch(`${server.url}/api/channels/private-ops/messages/stream?authorization=${streamToken}`);
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    const requests = () => logLines(server).filter((line) => line.message === "request");
    expect(await eventually(async () => requests().length >= 2, true)).toBe(true);
    expect(logLines(server).find((line) => line.runtime === "workerd")).toMatchObject({
      level: "info",
      message: "edge-sse isolate started",
      hub: "durable-object",
      settings: { logLevel: "debug", authSecretSet: true, metricsTokenSet: true },
    });
    expect(requests()).toContainEqual(
      expect.objectContaining({
        level: "debug",
        method: "GET",
        path: "/api/channels/private-ops/messages/stream",
        status: 200,
      }),
    );
    for (const secret of [SECRET, METRICS_TOKEN, streamToken]) expect(server.output()).not.toContain(secret);
  });
});
