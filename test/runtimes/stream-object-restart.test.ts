/**
 * Workers under `wrangler dev`: a durable stream's object restarts three times (reset with
 * `ctx.abort()`, as a crash or a deploy does) while two idempotent producers append to it and an
 * SSE reader follows it. Each producer sends its appends one after another and sends an append again, with the same
 * Producer-Seq, until it is answered 2xx (the protocol's retry). Afterwards the stream holds every
 * append exactly once, each producer's in order, and the SSE reader has seen exactly what a
 * catch-up read returns: it went on across the restart, or came back from its last offset. The
 * server runs test/workers/restartable-worker.ts, the Worker with a route that restarts an object.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../support/server.ts";
import { PATIENCE_MS, readEvents } from "../support/sse-reader.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const PRODUCERS = 2;
const APPENDS = 40; // per producer
// Producer 0 has its object restarted right after these appends, while producer 1 goes on.
const RESTART_AFTER = new Set([20, 26, 32]);

interface Item {
  producer: number;
  seq: number;
}

describe("a durable stream's object that restarts under wrangler dev", () => {
  let server: RunningServer;
  let config: string;
  beforeAll(async () => {
    // The project's wrangler.toml, pointed at the restartable Worker.
    config = await mkdtemp(join(tmpdir(), "edge-sse-stream-restart-"));
    const toml = (await readFile(join(ROOT, "wrangler.toml"), "utf8"))
      .replace(/^main = .*$/m, `main = "${join(ROOT, "test/workers/restartable-worker.ts")}"`)
      .replace(/^directory = .*$/m, `directory = "${join(ROOT, "static")}"`);
    await writeFile(join(config, "wrangler.toml"), toml);
    server = await startServer(
      "workerd",
      { KEEP_ALIVE_MS: "300", PUBLISH_RATE_LIMIT: "0", MAX_STREAMS_PER_CLIENT: "0" },
      { args: ["--config", join(config, "wrangler.toml")] },
    );
  });
  afterAll(async () => {
    await server?.stop();
    await rm(config, { recursive: true, force: true });
  });

  it("keeps every append answered 2xx exactly once and in order, and the SSE reader sees them all", async () => {
    const name = `restart-${Date.now()}`;
    const url = `${server.url}/v1/stream/${name}`;
    const created = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" } });
    expect(created.status).toBe(201);

    const reader = follow(url);
    const instance = async () => (await fetch(`${server.url}/test/stream-instance/${name}`)).text();
    const before = await instance();
    let failedAppends = 0;

    /** Appends `seq` as producer `producer` until it is answered 2xx. */
    const append = async (producer: number, seq: number) => {
      const deadline = Date.now() + PATIENCE_MS;
      for (;;) {
        try {
          const response = await fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "producer-id": `producer-${producer}`,
              "producer-epoch": "0",
              "producer-seq": String(seq),
            },
            body: JSON.stringify({ producer, seq } satisfies Item),
          });
          await response.arrayBuffer();
          if (response.ok) return;
          // Only a failure of the object may be answered otherwise; anything else is a bug.
          expect(response.status).toBeGreaterThanOrEqual(500);
          failedAppends++;
        } catch {
          // The connection dropped: send it again, as the protocol's producers do.
          failedAppends++;
        }
        if (Date.now() > deadline) throw new Error(`producer ${producer}'s append ${seq} never succeeded`);
      }
    };
    const restarts: Promise<Response>[] = [];
    const produce = async (producer: number) => {
      for (let seq = 0; seq < APPENDS; seq++) {
        await append(producer, seq);
        // Not awaited: the other producer's appends and this one's next meet the object going away.
        if (producer === 0 && RESTART_AFTER.has(seq)) {
          restarts.push(fetch(`${server.url}/test/restart-stream/${name}`, { method: "POST" }));
        }
      }
    };
    await Promise.all(Array.from({ length: PRODUCERS }, (_, producer) => produce(producer)));
    for (const restarted of await Promise.all(restarts)) expect(restarted.status).toBe(204);
    expect(await instance()).not.toBe(before);

    const stored = await readAll(url);
    expect(stored).toHaveLength(PRODUCERS * APPENDS);
    for (let producer = 0; producer < PRODUCERS; producer++) {
      const seqs = stored.filter((item) => item.producer === producer).map((item) => item.seq);
      expect(seqs).toEqual(Array.from({ length: APPENDS }, (_, seq) => seq));
    }

    const seen = await reader.until(stored.length);
    expect(seen).toEqual(stored);
    await reader.stop();
    console.info(
      `stream object restart: ${failedAppends} appends answered otherwise and sent again, the SSE reader opened ${reader.opens()} response(s)`,
    );
  });
});

/** The whole stream by catch-up reads, page after page. */
async function readAll(url: string): Promise<Item[]> {
  const items: Item[] = [];
  let offset = "-1";
  for (;;) {
    const response = await fetch(`${url}?offset=${offset}`);
    expect(response.status).toBe(200);
    items.push(...((await response.json()) as Item[]));
    offset = response.headers.get("stream-next-offset") as string;
    if (response.headers.get("stream-up-to-date") === "true") return items;
  }
}

/**
 * An SSE reader of the stream: it collects every data event's items and, should its response end
 * or fail, opens a new one from the last control event's offset, as the protocol's clients do.
 */
function follow(url: string) {
  const items: Item[] = [];
  let offset = "-1";
  let stopped = false;
  let opens = 0;
  const controller = new AbortController();
  const run = async () => {
    while (!stopped) {
      try {
        const response = await fetch(`${url}?offset=${offset}&live=sse`, { signal: controller.signal });
        opens++;
        const events = readEvents(response);
        for (;;) {
          const event = await events.next();
          if (event.event === "data") items.push(...(JSON.parse(event.data) as Item[]));
          if (event.event === "control")
            offset = (JSON.parse(event.data) as { streamNextOffset: string }).streamNextOffset;
        }
      } catch {
        // Ended or failed: open a new one from the last offset.
      }
    }
  };
  const running = run();
  return {
    /** Resolves with what was seen once it has `count` items (or more), or after PATIENCE_MS. */
    async until(count: number): Promise<Item[]> {
      const deadline = Date.now() + PATIENCE_MS;
      while (items.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return [...items];
    },
    opens: () => opens,
    stop() {
      stopped = true;
      controller.abort();
      return running;
    },
  };
}
