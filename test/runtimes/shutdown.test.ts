/**
 * Graceful shutdown of real Node, Bun and Deno servers. SIGTERM to the server's process group (as
 * a supervisor sends it): every stream gets what was acknowledged, then a `retry:` and a final
 * comment, then its end; the process exits by itself; `eventsource` clients come back to the next
 * instance on the same port with their Last-Event-ID and miss nothing. A client that stopped
 * reading cannot hold the exit beyond SHUTDOWN_TIMEOUT_MS.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { EventSource } from "eventsource";
import { createParser } from "eventsource-parser";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";
import { eventually, PATIENCE_MS } from "../support/sse-reader.ts";

const RUNTIMES: Runtime[] = ["node", "bun", "deno"];
const SHUTDOWN_TIMEOUT_MS = 5_000;
const CLIENTS = 5;

/** An EventSource that records the ids of the messages it receives, across reconnections. */
class Client {
  readonly ids: number[] = [];
  readonly source: EventSource;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.source = new EventSource(url);
    this.opened = new Promise((resolve) => this.source.addEventListener("open", () => resolve(), { once: true }));
    this.source.onmessage = (event) => this.ids.push(Number(event.lastEventId));
  }
}

/** Publishes `count` messages from `publishers` concurrent senders; the acknowledged ids, sorted. */
async function publish(url: string, count: number, publishers: number, text = (i: number) => `message ${i}`) {
  const ids: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (next < count) {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text: text(next++) }),
        });
        if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
        ids.push(((await response.json()) as { id: number }).id);
      }
    }),
  );
  return ids.sort((a, b) => a - b);
}

type Item = { event: string; id: number } | { retry: number } | { comment: string };

/** What a whole SSE body holds, in order, as eventsource-parser reads it. */
function parseBody(body: string): Item[] {
  const items: Item[] = [];
  const parser = createParser({
    onEvent: (event) => items.push({ event: event.event ?? "message", id: Number(event.id) }),
    onRetry: (retry) => items.push({ retry }),
    onComment: (comment) => items.push({ comment }),
  });
  parser.feed(body);
  return items;
}

describe.each(RUNTIMES)("shutdown on %s", (runtime) => {
  const servers: RunningServer[] = [];
  const sources: EventSource[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const source of sources.splice(0)) source.close();
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  const subscribers = async (url: string) => {
    const response = await fetch(`${url}/stats`).catch(() => undefined);
    return response?.ok ? ((await response.json()) as { subscribers: number }).subscribers : -1;
  };

  it("on SIGTERM sends every acknowledged message, then retry: and a final comment, exits, and clients resume on the next instance with nothing lost", async () => {
    const settings = { PUBLISH_RATE_LIMIT: "0", SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) };
    const first = await startServer(runtime, settings);
    servers.push(first);
    const feed = `${first.url}/api/channels/shutdown/messages`;
    const clients = Array.from({ length: CLIENTS }, () => new Client(`${feed}/stream`));
    sources.push(...clients.map((client) => client.source));
    await Promise.all(clients.map((client) => client.opened));
    const raw = await fetch(`${feed}/stream`);
    const rawBody = raw.text();
    expect(await eventually(() => subscribers(feed), CLIENTS + 1)).toBe(CLIENTS + 1);

    // Signalled right after the last 201, without waiting for the clients to receive anything.
    const before = await publish(feed, 60, 4);
    first.signal("SIGTERM");

    // The raw reader: everything acknowledged, then the shutdown's retry and comment, then the end.
    const items = parseBody(await rawBody);
    expect(items[0]).toEqual({ retry: 3000 });
    expect(items.slice(1, -2)).toEqual(before.map((id) => ({ event: "message", id })));
    const [retry, comment] = items.slice(-2);
    expect(retry).toEqual({ retry: expect.any(Number) });
    expect((retry as { retry: number }).retry).toBeGreaterThanOrEqual(1_000);
    expect((retry as { retry: number }).retry).toBeLessThan(2_000);
    expect(comment).toEqual({ comment: "server shutting down" });

    // It exits by itself (no SIGKILL), and not by giving up on unsent streams.
    expect(await first.exited(SHUTDOWN_TIMEOUT_MS + 15_000)).toBe(true);
    expect(first.output()).toContain(`SIGTERM: stopped accepting and ended ${CLIENTS + 1} streams`);
    expect(first.output()).not.toContain("exiting anyway");

    const second = await startServer(runtime, settings, { port: Number(new URL(first.url).port) });
    servers.push(second);
    // Published at once: clients that come back later get these by replay after their Last-Event-ID.
    const whileAway = await publish(feed, 20, 2);
    expect(await eventually(() => subscribers(feed), CLIENTS)).toBe(CLIENTS);
    const after = await publish(feed, 40, 4);
    // The in-memory hub started empty, but its ids continue upwards (from the clock).
    expect(whileAway[0]).toBeGreaterThan(before.at(-1) as number);

    const all = [...before, ...whileAway, ...after];
    const deadline = Date.now() + PATIENCE_MS;
    while (clients.some((client) => client.ids.length < all.length) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const client of clients) expect(client.ids).toEqual(all);
  });

  /** A server on which neither the queue limit nor the stall rule drops a client that does not read. */
  async function serverForBacklogs(shutdownTimeoutMs: number) {
    const server = await startServer(runtime, {
      PUBLISH_RATE_LIMIT: "0",
      SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
      MAX_BUFFERED_BYTES: String(512 * 1024 * 1024),
      MAX_BUFFERED_EVENTS: "1000000",
      KEEP_ALIVE_MS: "60000",
    });
    servers.push(server);
    return server;
  }

  // About 12 MB in all: far more than loopback's socket buffers hold.
  const BACKLOG = 1_500;
  const bigText = (i: number) => `${i} ${"😀".repeat(1_990)}`;

  it("sends a client that reads late its whole backlog, then the retry and the comment, before exiting", async () => {
    const server = await serverForBacklogs(30_000);
    const feed = `${server.url}/api/channels/late/messages`;
    const response = await fetch(`${feed}/stream`); // its body is read only after the signal
    expect(await eventually(() => subscribers(feed), 1)).toBe(1);
    const ids = await publish(feed, BACKLOG, 8, bigText);
    server.signal("SIGTERM");
    expect(await eventually(async () => server.output().includes("SIGTERM: stopped accepting"), true)).toBe(true);

    const items = parseBody(await response.text());
    expect(items.filter((item) => "event" in item).map((item) => (item as { id: number }).id)).toEqual(ids);
    expect(items.slice(-2)).toEqual([{ retry: expect.any(Number) }, { comment: "server shutting down" }]);
    expect(await server.exited(30_000)).toBe(true);
    expect(server.output()).not.toContain("exiting anyway");
  });

  /** A server with one client that stopped reading while the backlog waits for it. */
  async function serverWithStuckClient(shutdownTimeoutMs: number) {
    const server = await serverForBacklogs(shutdownTimeoutMs);
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    await once(socket, "connect");
    socket.write(`GET /api/channels/stuck/messages/stream HTTP/1.1\r\nhost: ${hostname}:${port}\r\n\r\n`);
    await once(socket, "data");
    socket.pause(); // reads nothing more: the kernel's buffers fill, then the server's queue grows
    const feed = `${server.url}/api/channels/stuck/messages`;
    expect(await eventually(() => subscribers(feed), 1)).toBe(1);
    await publish(feed, BACKLOG, 8, bigText);
    return { server, socket };
  }

  it("exits after SHUTDOWN_TIMEOUT_MS while a client that stopped reading still has data queued", async () => {
    const { server, socket } = await serverWithStuckClient(1_000);
    server.signal("SIGTERM");
    expect(await server.exited(30_000)).toBe(true);
    // Its last words may reach the pipe just after the exit is seen.
    expect(await eventually(async () => server.output().includes("exiting anyway"), true)).toBe(true);

    // The stream really was stuck: what the kernel held arrives, but its final comment never left.
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.resume();
    await Promise.race([once(socket, "close"), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    expect(received.length).toBeGreaterThan(0);
    expect(received).not.toContain("server shutting down");
  });

  it("exits at once on a second signal, without waiting for a stuck client", async () => {
    // A minute to wait for the stuck client: only the second signal can end it within the bound below.
    const { server } = await serverWithStuckClient(60_000);
    server.signal("SIGTERM");
    expect(await eventually(async () => server.output().includes("SIGTERM: stopped accepting"), true)).toBe(true);
    server.signal("SIGINT");
    expect(await server.exited(20_000)).toBe(true);
    expect(await eventually(async () => server.output().includes("SIGINT again: exiting now"), true)).toBe(true);
  });
});
