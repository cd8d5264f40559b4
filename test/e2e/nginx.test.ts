/**
 * The app behind a real nginx (Debian's, installed by .ci/run) configured as a plain reverse proxy:
 * the snippet docs/deploy.md shows, with nginx's default `proxy_buffering on` and a short
 * `proxy_read_timeout`. Events must pass one by one as they are produced, and quiet streams must
 * outlive the read timeout on keep-alive comments alone.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NGINX_LOCATION, NGINX_UPSTREAM, type RunningNginx, startNginx } from "../support/nginx.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";
import { eventually, readEvents, type SseReader } from "../support/sse-reader.ts";

// Short, so a test can outlast several of them.
const READ_TIMEOUT_SECONDS = 2;
// Well under the read timeout: a quiet stream gets four comments per timeout period.
const KEEP_ALIVE_MS = 500;
const TICK_MS = 300;
const TICK = /^Middleware (\d+) at (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)$/;

interface Message {
  id: number;
  text: string;
  author: string | null;
  createdAt: string;
}

interface Arrival {
  id: string;
  /** When the server produced the event: the time inside its data. */
  produced: number;
  /** When this client had parsed it. */
  arrived: number;
}

async function post(url: string, channel: string, text: string): Promise<Message> {
  const response = await fetch(`${url}/api/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Message;
}

/**
 * Opens a stream and checks that it is one: a proxy's error page, or headers held back, fail here
 * with a readable message instead of at the test's timeout.
 */
async function openStream(url: string, headersWithinMs = 2_000): Promise<SseReader> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no response headers within ${headersWithinMs} ms from ${url}`)),
    headersWithinMs,
  );
  let response: Response;
  try {
    response = await fetch(url, { signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return readEvents(response);
}

/** Reads ticker events 0..count-1 at `?interval=300`, noting when each was produced and when it arrived. */
async function tickerArrivals(url: string, count: number): Promise<Arrival[]> {
  const events = await openStream(`${url}/sse?interval=${TICK_MS}`);
  const arrivals: Arrival[] = [];
  try {
    while (arrivals.length < count) {
      const event = await events.next();
      const arrived = Date.now();
      const match = TICK.exec(event.data);
      if (!match) throw new Error(`not a ticker event: ${JSON.stringify(event.data)}`);
      arrivals.push({ id: event.id ?? "", produced: Date.parse(match[2] as string), arrived });
    }
  } finally {
    await events.cancel();
  }
  return arrivals;
}

/**
 * No event may wait for a later one: event i must be in the client's hands before event i+1 even
 * exists. Both times come from this machine's clock, in whole ms. With the events 300 ms apart, a
 * prompt proxy passes this by about 300 ms; one that holds events back to batch them cannot.
 */
function expectEachBeforeTheNext(arrivals: Arrival[]): void {
  expect(arrivals.map((arrival) => arrival.id)).toEqual(arrivals.map((_, i) => String(i)));
  for (let i = 0; i + 1 < arrivals.length; i++) {
    const { arrived } = arrivals[i] as Arrival;
    const { produced: next } = arrivals[i + 1] as Arrival;
    expect(arrived, `event ${i} arrived ${arrived - next} ms after event ${i + 1} was produced`).toBeLessThan(next);
  }
}

/** The first event within `ms`, or undefined if neither the headers nor an event came by then. */
async function firstEventWithin(url: string, ms: number): Promise<unknown> {
  const started = Date.now();
  let events: SseReader | undefined;
  try {
    events = await openStream(url, ms);
    return await events.next(Math.max(0, ms - (Date.now() - started)));
  } catch (error) {
    if (/^no (response headers|event) within/.test((error as Error).message)) return undefined;
    throw error;
  } finally {
    await events?.cancel().catch(() => {});
  }
}

describe("the nginx snippet in docs/deploy.md", () => {
  it("is the one these tests run", async () => {
    const doc = await readFile(new URL("../../docs/deploy.md", import.meta.url), "utf8");
    expect(doc).toContain(NGINX_UPSTREAM);
    expect(doc).toContain(NGINX_LOCATION);
  });
});

describe.each<Runtime>(["node", "bun"])("%s behind nginx", (runtime) => {
  /** The app with a 500 ms keep-alive. */
  let server: RunningServer | undefined;
  /** The app with the default 5 s keep-alive: longer than the proxy's read timeout. */
  let slowKeepAlive: RunningServer | undefined;
  /** The documented snippet in front of each. */
  let proxy: RunningNginx;
  let slowKeepAliveProxy: RunningNginx;
  /** With gzip on for event streams: once as configured, once ignoring the app's header. */
  let gzipProxy: RunningNginx;
  let gzipIgnoringProxy: RunningNginx;
  const proxies: RunningNginx[] = [];

  beforeAll(async () => {
    const [started, startedSlow] = await Promise.allSettled([
      startServer(runtime, { KEEP_ALIVE_MS: String(KEEP_ALIVE_MS) }),
      startServer(runtime),
    ]);
    if (started.status === "fulfilled") server = started.value;
    if (startedSlow.status === "fulfilled") slowKeepAlive = startedSlow.value;
    // Rethrown after both settled, so afterAll can stop whichever did start.
    for (const result of [started, startedSlow]) if (result.status === "rejected") throw result.reason;
    const app = (server as RunningServer).url;
    const readTimeoutSeconds = READ_TIMEOUT_SECONDS;
    const start = async (upstream: string, options: Parameters<typeof startNginx>[1]) => {
      const nginx = await startNginx(upstream, options);
      proxies.push(nginx);
      return nginx;
    };
    [proxy, slowKeepAliveProxy, gzipProxy, gzipIgnoringProxy] = await Promise.all([
      start(app, { readTimeoutSeconds }),
      start((slowKeepAlive as RunningServer).url, { readTimeoutSeconds }),
      start(app, { readTimeoutSeconds, gzipEventStreams: true }),
      start(app, { readTimeoutSeconds, gzipEventStreams: true, ignoreAccelBuffering: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.allSettled([...proxies.map((nginx) => nginx.stop()), server?.stop(), slowKeepAlive?.stop()]);
  });

  const subscribers = async (channel: string) => {
    const response = await fetch(`${server?.url}/api/channels/${channel}/messages/stats`);
    return ((await response.json()) as { subscribers: number }).subscribers;
  };

  it("passes each ticker event on before the next one is produced", async () => {
    expectEachBeforeTheNext(await tickerArrivals(proxy.url, 5));
  });

  it("passes each feed message on to a subscriber before the next one is posted", async () => {
    const channel = `nginx-feed-${runtime}-${Date.now()}`;
    const events = await openStream(`${proxy.url}/api/channels/${channel}/messages/stream`);
    try {
      expect(await eventually(() => subscribers(channel), 1)).toBe(1);
      for (let i = 0; i < 3; i++) {
        // Posted through nginx too; the next POST waits for this event, so nothing can batch it.
        const message = await post(proxy.url, channel, `through nginx ${i}`);
        const event = await events.next();
        expect(event.id).toBe(String(message.id));
        expect(JSON.parse(event.data)).toEqual(message);
      }
    } finally {
      await events.cancel();
    }
  });

  it(`keeps a quiet feed stream open across several ${READ_TIMEOUT_SECONDS} s read timeouts with keep-alive comments`, async () => {
    const channel = `nginx-quiet-${runtime}-${Date.now()}`;
    const events = await openStream(`${proxy.url}/api/channels/${channel}/messages/stream`);
    try {
      // Reading all along: a stream that nginx cut would end this with an error of its own.
      await expect(events.next(7_000)).rejects.toThrow("no event within 7000 ms");
      // 7 s of 500 ms comments is 14; half of that still shows they came all along.
      expect(events.comments.filter((comment) => comment === "keep-alive").length).toBeGreaterThanOrEqual(7);
      const message = await post(proxy.url, channel, "still there");
      const event = await events.next();
      expect(event.id).toBe(String(message.id));
      expect(JSON.parse(event.data)).toEqual(message);
    } finally {
      await events.cancel();
    }
  });

  it("control: with a keep-alive longer than proxy_read_timeout, nginx cuts a quiet stream", async () => {
    const channel = `nginx-cut-${runtime}-${Date.now()}`;
    const events = await openStream(`${slowKeepAliveProxy.url}/api/channels/${channel}/messages/stream`);
    const opened = Date.now();
    try {
      const ended = await events.next(4_500).then(
        () => new Error("got an event on a channel nobody posts to"),
        (error: Error) => error,
      );
      // Not our own timeout: nginx ended the stream, after its read timeout and before the first comment.
      expect(ended.message).not.toMatch(/^no event within|^got an event/);
      expect(Date.now() - opened).toBeGreaterThanOrEqual(READ_TIMEOUT_SECONDS * 1000 - 200);
      expect(events.comments).not.toContain("keep-alive");
    } finally {
      await events.cancel().catch(() => {});
    }
  });

  it("answers with the SSE headers through nginx, which consumes X-Accel-Buffering", async () => {
    for (const path of ["/sse", "/api/messages/stream"]) {
      const [direct, proxied] = await Promise.all([fetch(`${server?.url}${path}`), fetch(`${proxy.url}${path}`)]);
      try {
        expect(direct.headers.get("x-accel-buffering")).toBe("no");
        expect(proxied.status).toBe(200);
        expect(proxied.headers.get("content-type")).toMatch(/^text\/event-stream\b/);
        expect(proxied.headers.get("cache-control")).toMatch(/\bno-cache\b/);
        // nginx acts on X-Accel-* headers and does not pass them on.
        expect(proxied.headers.get("x-accel-buffering")).toBeNull();
      } finally {
        await Promise.all([direct.body?.cancel(), proxied.body?.cancel()]);
      }
    }
  });

  it("control: with gzip on for event streams, the app's X-Accel-Buffering header is what keeps events flowing", async () => {
    // With the header, nginx flushes gzip after every event.
    const response = await fetch(`${gzipProxy.url}/sse?interval=${TICK_MS}`);
    expect(response.headers.get("content-encoding")).toBe("gzip");
    await response.body?.cancel();
    expectEachBeforeTheNext(await tickerArrivals(gzipProxy.url, 5));
    // Without it, gzip holds the stream back: not even the headers come within 1.5 s (5 events).
    expect(await firstEventWithin(`${gzipIgnoringProxy.url}/sse?interval=${TICK_MS}`, 1_500)).toBeUndefined();
  });
});
