/**
 * The installed package inside a user's own app (consumer/app.mjs, plain JavaScript) on every
 * runtime: Node (with edge-sse/node's fast path), Bun, Deno, and workerd under `wrangler dev` (with
 * edge-sse/workers' channel objects). Async generators stream in order through a spec parser, a
 * client that leaves runs the generator's `finally`, and a generator that throws ends its stream
 * with the documented `error` event.
 */
import { connect, type Socket } from "node:net";
import { resolve } from "node:path";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, spawnGroup, stopGroup, waitUntilServing } from "../support/process-group.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

const bin = (name: string) => resolve(import.meta.dirname, "../../node_modules/.bin", name);

type Runtime = "node" | "bun" | "deno" | "workerd";

function command(runtime: Runtime, port: number, inspector: number): [string, string[]] {
  switch (runtime) {
    case "node":
      return [process.execPath, ["node-server.mjs"]];
    case "bun":
      return [bin("bun"), ["bun-server.mjs"]];
    case "deno":
      return [bin("deno"), ["run", "--allow-net", "--allow-env", "--allow-read", "deno-server.mjs"]];
    case "workerd":
      return [
        bin("wrangler"),
        [
          "dev",
          "--ip",
          "127.0.0.1",
          "--port",
          String(port),
          "--inspector-port",
          String(inspector),
          "--log-level",
          "warn",
        ],
      ];
  }
}

/** The whole body of a stream that ends by itself, as a spec parser reads it. */
async function allEvents(url: string): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(await (await fetch(url, { signal: AbortSignal.timeout(20_000) })).text());
  return events;
}

/** A client that sends its request, waits for the response headers, then never reads again. */
function silentClient(url: URL): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
      socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    let head = "";
    socket.on("error", () => undefined);
    socket.on("data", function onHead(chunk: Buffer) {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onHead);
      socket.pause();
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

describe.each<Runtime>(["node", "bun", "deno", "workerd"])("a user's app on %s", (runtime) => {
  let url: string;
  let stop: () => Promise<void>;
  let output: () => string;
  const stats = async () =>
    (await (await fetch(`${url}/stats`)).json()) as {
      finallyRan: number;
      produced: number;
      flooded: number;
      floodFinallyRan: number;
    };

  beforeAll(async () => {
    const port = await freePort("127.0.0.1");
    const [file, args] = command(runtime, port, await freePort("127.0.0.1"));
    // spawnGroup runs in this process's directory: cd into the consumer project first.
    const group = spawnGroup("sh", ["-c", 'cd "$CONSUMER" && exec "$@"', "sh", file, ...args], {
      env: {
        ...process.env,
        CONSUMER: inject("consumer"),
        PORT: String(port),
        WRANGLER_SEND_METRICS: "false",
        NO_COLOR: "1",
      },
    });
    stop = () => stopGroup(group.child);
    output = group.output;
    url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilServing(`${url}/stats`, group.child, 60_000);
    } catch (error) {
      await stop();
      throw new Error(`${runtime} did not start: ${(error as Error).message}\n${output()}`);
    }
  });
  afterAll(async () => {
    await stop?.();
  });

  it("streams an async generator's events in order, then ends the stream", async () => {
    const events = await allEvents(`${url}/count?n=5`);
    expect(events.map((event) => [event.event, event.id, JSON.parse(event.data)])).toEqual(
      [1, 2, 3, 4, 5].map((i) => ["count", String(i), { i }]),
    );
  });

  it("runs the generator's finally when the client leaves", async () => {
    const before = (await stats()).finallyRan;
    const client = new AbortController();
    const reader = readEvents(await fetch(`${url}/forever`, { signal: client.signal }));
    const received = [await reader.next(), await reader.next(), await reader.next()];
    expect(received.map((event) => JSON.parse(event.data).i)).toEqual([0, 1, 2]);
    client.abort();
    expect(await eventually(async () => (await stats()).finallyRan, before + 1)).toBe(before + 1);
  });

  it("holds an endless generator back while its client reads nothing, and ends it when the client goes", async () => {
    const before = await stats();
    const socket = await silentClient(new URL(`${url}/flood`));
    // Wait until it stops producing: each look waits a little longer, so a slow machine gets time.
    let produced = -1;
    for (let look = 0; look < 40; look++) {
      await new Promise((resolve) => setTimeout(resolve, 100 + 25 * look));
      const now = (await stats()).flooded;
      if (now === produced) break;
      produced = now;
    }
    const ahead = produced - before.flooded;
    console.log(`${runtime}: an unread client let the generator produce ${ahead} events of 1 KB, then held it`);
    // Bounded: the stream's 100 unread events, plus what the sockets' buffers (and, under wrangler
    // dev, its proxy) hold; far from the thousands per second it makes for a client that reads.
    expect((await stats()).flooded).toBe(produced);
    expect(ahead).toBeLessThan(50_000);
    socket.destroy();
    expect(await eventually(async () => (await stats()).floodFinallyRan, before.floodFinallyRan + 1)).toBe(
      before.floodFinallyRan + 1,
    );
  });

  it("ends the stream with the error event when the generator throws", async () => {
    const events = await allEvents(`${url}/fails`);
    expect(events.map((event) => [event.event ?? "message", event.data])).toEqual([
      ["message", "before"],
      ["error", JSON.stringify({ error: { code: "upstream_down", message: "the upstream is down" } })],
    ]);
  });

  it("serves the middleware form and the core's function source", async () => {
    expect((await allEvents(`${url}/middleware`)).map((event) => event.data)).toEqual(["from middleware"]);
    expect((await allEvents(`${url}/core`)).map((event) => [event.event, event.data])).toEqual([
      ["core", '{"ok":true}'],
    ]);
  });

  it("publishes to and lists the hub (MemoryHub, or channel objects on workerd)", async () => {
    const published = await fetch(`${url}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: `hello from ${runtime}` }),
    });
    expect(published.status).toBe(201);
    const listed = (await (await fetch(`${url}/messages`)).json()) as { text: string }[];
    expect(listed.map((message) => message.text)).toContain(`hello from ${runtime}`);
  });
});
