/**
 * The same app as a real server under wrangler dev (workerd), Node, Bun and Deno, read by the
 * `eventsource` npm client (a WHATWG EventSource).
 */
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, type RunningServer, startServer } from "../support/server.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

interface Received {
  id: string;
  data: string;
}

/** Opens an EventSource, collects `count` messages, then closes it. */
function receive(url: string, count: number, timeoutMs = 10_000): Promise<{ opened: boolean; messages: Received[] }> {
  return new Promise((resolve, reject) => {
    const source = new EventSource(url);
    const messages: Received[] = [];
    let opened = false;
    const timer = setTimeout(() => {
      source.close();
      reject(new Error(`got ${messages.length} of ${count} events from ${url} in ${timeoutMs} ms`));
    }, timeoutMs);
    source.onopen = () => {
      opened = true;
    };
    source.onmessage = (event) => {
      messages.push({ id: event.lastEventId, data: event.data });
      if (messages.length === count) {
        clearTimeout(timer);
        source.close();
        resolve({ opened, messages });
      }
    };
  });
}

describe.each(RUNTIMES)("on %s", (runtime) => {
  let server: RunningServer;
  const activeStreams = async () => {
    const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as { activeStreams: number };
    return stats.activeStreams;
  };

  beforeAll(async () => {
    server = await startServer(runtime, { KEEP_ALIVE_MS: "300" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ["/sse", "Middleware"],
    ["/api/sse", "Controller"],
  ])("%s sends events 0, 1, 2 to an EventSource, and frees the stream when it closes", async (path, label) => {
    const { opened, messages } = await receive(`${server.url}${path}?interval=100`, 3);
    expect(opened).toBe(true);
    expect(messages.map((message) => message.id)).toEqual(["0", "1", "2"]);
    messages.forEach((message, i) => {
      expect(message.data).toMatch(new RegExp(`^${label} ${i} at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`));
    });
    expect(await eventually(activeStreams, 0)).toBe(0);
  });

  it("frees an idle stream (one event a minute) within 2 s of the client leaving", async () => {
    const events = readEvents(await fetch(`${server.url}/sse?interval=60000`));
    await events.next();
    expect(await activeStreams()).toBe(1);
    await events.cancel();
    // On workerd the departure is seen at the next write: here the 300 ms keep-alive.
    expect(await eventually(activeStreams, 0)).toBe(0);
  });

  it("keeps a quiet stream alive with comments", async () => {
    const events = readEvents(await fetch(`${server.url}/api/sse?interval=60000`));
    await events.next();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await expect(events.next(100)).rejects.toThrow(/no event/);
    expect(events.comments.filter((comment) => comment === "keep-alive").length).toBeGreaterThanOrEqual(2);
    await events.cancel();
  });

  it("answers a bad interval with the JSON error shape", async () => {
    const response = await fetch(`${server.url}/sse?interval=5`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { code: "invalid_query", message: expect.stringContaining("interval") },
    });
  });

  it("serves the demo page at /, and the client it imports", async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toContain("import { connectEventStream } from '/client.js'");
    const client = await fetch(`${server.url}/client.js`);
    expect(client.status).toBe(200);
    expect(client.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    expect(await client.text()).toContain("function connectEventStream(");
  });
});

describe("on bun with the default keep-alive", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer("bun");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("holds a silent stream open past Bun's 10 s idle timeout", async () => {
    const events = readEvents(await fetch(`${server.url}/sse?interval=60000`));
    await events.next();
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    // A closed connection would make this read fail with "stream ended" instead of timing out.
    await expect(events.next(100)).rejects.toThrow(/no event/);
    expect(events.comments).toContain("keep-alive");
    await events.cancel();
  }, 20_000);
});
