/**
 * Durable streams on Redis (src/hub/redis/redis-log.ts), with real server processes on one real
 * redis-server: Electric's conformance suite against Node, Bun and Deno; one stream created on Node,
 * appended to on Bun and read live on Deno; and what idempotent producers are promised through a
 * `kill -9` of the process they write to and through a `kill -9` of Redis (append-only file,
 * fsynced on every write): every append answered 2xx is in the stream exactly once, in each
 * producer's order, once the unanswered ones were retried with the same producer headers.
 */
import { type ConformanceTestOptions, runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";
import { PATIENCE_MS, readEvents } from "../support/sse-reader.ts";

const LONG_POLL_TIMEOUT_MS = 1_000;

/** As the conformance suite needs them: a short long-poll, and no publish rate limit. */
const settingsOn = (redis: RunningRedis) => ({
  REDIS_URL: redis.url,
  REDIS_TIMEOUT_MS: "1000",
  LONG_POLL_TIMEOUT_MS: String(LONG_POLL_TIMEOUT_MS),
  PUBLISH_RATE_LIMIT: "0",
  MAX_STREAMS_PER_CLIENT: "0",
});

describe.each(["node", "bun", "deno"] as const)("the Durable Streams conformance suite on %s (Redis)", (runtime) => {
  // The suite reads baseUrl when each test runs: it is set once the server is up.
  const options: ConformanceTestOptions = { baseUrl: "", longPollTimeoutMs: LONG_POLL_TIMEOUT_MS };
  let redis: RunningRedis;
  let server: RunningServer;
  beforeAll(async () => {
    redis = await startRedis();
    server = await startServer(runtime, settingsOn(redis));
    options.baseUrl = server.url;
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.dispose();
  });

  runConformanceTests(options);
});

const streamUrl = (server: RunningServer, name: string) => `${server.url}/v1/stream/${name}`;

async function create(server: RunningServer, name: string, contentType: string): Promise<void> {
  const response = await fetch(streamUrl(server, name), { method: "PUT", headers: { "content-type": contentType } });
  expect(response.status).toBe(201);
}

/** The whole stream, read page by page from the start (catch-up reads). */
async function readAll(server: RunningServer, name: string): Promise<unknown[]> {
  const messages: unknown[] = [];
  let offset = "-1";
  for (;;) {
    const response = await fetch(`${streamUrl(server, name)}?offset=${offset}`);
    expect(response.status).toBe(200);
    messages.push(...((await response.json()) as unknown[]));
    offset = response.headers.get("stream-next-offset") as string;
    if (response.headers.get("stream-up-to-date") === "true") return messages;
  }
}

describe("one stream across Node, Bun and Deno on one Redis", () => {
  let redis: RunningRedis;
  const servers: Partial<Record<Runtime, RunningServer>> = {};
  beforeAll(async () => {
    redis = await startRedis();
    await Promise.all(
      (["node", "bun", "deno"] as const).map(async (runtime) => {
        servers[runtime] = await startServer(runtime, settingsOn(redis));
      }),
    );
  });
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await redis?.dispose();
  });

  it("is created on Node, appended to on Bun and read live (SSE) on Deno, every append once and in order", async () => {
    const { node, bun, deno } = servers as Record<"node" | "bun" | "deno", RunningServer>;
    const name = `mixed-${Date.now()}`;
    await create(node, name, "text/plain");
    const live = readEvents(await fetch(`${streamUrl(deno, name)}?offset=-1&live=sse`));
    // The empty stream's first control event: Deno is following it.
    expect(JSON.parse((await live.next()).data)).toMatchObject({ upToDate: true });

    // A long-poll on Node from the (empty) tail, woken by Bun's first append, or answered at once if
    // it arrives after it: an offset, not `now`, so that what it gets does not depend on when it lands.
    const tail = (await fetch(streamUrl(node, name), { method: "HEAD" })).headers.get("stream-next-offset");
    const polled = fetch(`${streamUrl(node, name)}?offset=${tail}&live=long-poll`);
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}\n`);
    for (const line of lines) {
      const response = await fetch(streamUrl(bun, name), {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: line,
      });
      expect(response.status).toBe(204);
    }
    const closed = await fetch(streamUrl(bun, name), { method: "POST", headers: { "stream-closed": "true" } });
    expect(closed.status).toBe(204);

    let text = "";
    let last: Record<string, unknown> = {};
    while (last.streamClosed !== true) {
      const event = await live.next();
      if (event.event === "data") text += event.data;
      else last = JSON.parse(event.data) as Record<string, unknown>;
    }
    expect(text).toBe(lines.join(""));
    const poll = await polled;
    // Within LONG_POLL_TIMEOUT_MS: the appends from the first on, or a timeout first (204).
    expect([200, 204]).toContain(poll.status);
    if (poll.status === 200) expect(lines.join("").startsWith(await poll.text())).toBe(true);
    // Node and Deno read the same bytes back.
    const [fromNode, fromDeno] = await Promise.all(
      [node, deno].map(async (server) => (await fetch(`${streamUrl(server, name)}?offset=-1`)).text()),
    );
    expect(fromNode).toBe(lines.join(""));
    expect(fromDeno).toBe(lines.join(""));
  });

  it("goes on delivering to live readers on all three after their pub/sub connections are killed", async () => {
    const runtimes = ["node", "bun", "deno"] as const;
    const name = `pubsub-killed-${Date.now()}`;
    await create(servers.node as RunningServer, name, "text/plain");
    const readers = await Promise.all(
      runtimes.map(async (runtime) => {
        const reader = readEvents(
          await fetch(`${streamUrl(servers[runtime] as RunningServer, name)}?offset=-1&live=sse`),
        );
        expect(JSON.parse((await reader.next()).data)).toMatchObject({ upToDate: true });
        return reader;
      }),
    );
    const append = async (text: string) => {
      const response = await fetch(streamUrl(servers.node as RunningServer, name), {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: text,
      });
      expect(response.status).toBe(204);
    };
    /** What each reader has received, once it has `expected` (or PATIENCE_MS passed). */
    const received = ["", "", ""];
    const receive = async (expected: string) => {
      await Promise.all(
        readers.map(async (reader, i) => {
          while (received[i] !== expected) {
            const event = await reader.next();
            if (event.event === "data") received[i] += event.data;
          }
        }),
      );
    };
    let expected = "before ";
    await append(expected);
    await receive(expected);
    // Three times: the append right after the kill races the processes' reconnection (a few ms here),
    // and is either heard on the new subscription or read when it is confirmed.
    for (let round = 0; round < 3; round++) {
      const killed = (await redis.command("CLIENT", "KILL", "TYPE", "pubsub")) as number;
      expect(killed).toBeGreaterThanOrEqual(3);
      expected += `during ${round} `;
      await append(`during ${round} `);
      await receive(expected);
    }
    expected += "after";
    await append("after");
    await receive(expected);
    expect(received).toEqual([expected, expected, expected]);
    await Promise.all(readers.map((reader) => reader.cancel()));
  });
});

const PRODUCERS = 4;
const APPENDS_PER_PRODUCER = 60;

interface ProducerRun {
  /** Seqs answered 2xx, per producer. */
  acknowledged: Map<string, number[]>;
  /** Retries answered 204 as duplicates: the earlier try had been stored, unanswered. */
  duplicates: number;
  /** Tries that got no answer or a 503, and were sent again. */
  retries: number;
}

/**
 * PRODUCERS idempotent producers (epoch 0), each appending APPENDS_PER_PRODUCER JSON messages one
 * after another to `target()`; a try with no answer (connection lost) or a 503 is sent again with
 * the same producer headers, to whatever `target()` is then. `onAcknowledged` sees each 2xx.
 */
async function produce(
  name: string,
  target: () => RunningServer,
  onAcknowledged: (total: number) => void,
): Promise<ProducerRun> {
  const run: ProducerRun = { acknowledged: new Map(), duplicates: 0, retries: 0 };
  let total = 0;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      const producer = `producer-${p}`;
      const acknowledged: number[] = [];
      run.acknowledged.set(producer, acknowledged);
      for (let seq = 0; seq < APPENDS_PER_PRODUCER; seq++) {
        const deadline = Date.now() + PATIENCE_MS;
        for (let tries = 0; ; tries++) {
          let status = 0;
          try {
            const response = await fetch(streamUrl(target(), name), {
              method: "POST",
              headers: {
                "content-type": "application/json",
                "producer-id": producer,
                "producer-epoch": "0",
                "producer-seq": String(seq),
              },
              body: JSON.stringify({ producer, seq }),
              signal: AbortSignal.timeout(PATIENCE_MS),
            });
            status = response.status;
            await response.body?.cancel();
          } catch {
            // No answer: the process died or Redis is away. Sent again below.
          }
          if (status === 200 || status === 204) {
            if (status === 204) run.duplicates++;
            acknowledged.push(seq);
            onAcknowledged(++total);
            break;
          }
          if (status !== 0 && status !== 503) throw new Error(`${producer} seq ${seq}: answered ${status}`);
          if (Date.now() > deadline) throw new Error(`${producer} seq ${seq}: no 2xx within ${PATIENCE_MS} ms`);
          run.retries++;
          // Give the restart a moment; each retry is one more request, not a wait for something.
          await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** tries, 250)));
        }
      }
    }),
  );
  return run;
}

/** Every acknowledged seq is in the stream exactly once, in each producer's order. */
function expectEachOnceInOrder(messages: unknown[], run: ProducerRun): void {
  for (const [producer, acknowledged] of run.acknowledged) {
    const stored = (messages as { producer: string; seq: number }[])
      .filter((message) => message.producer === producer)
      .map((message) => message.seq);
    expect(acknowledged).toEqual(Array.from({ length: APPENDS_PER_PRODUCER }, (_, seq) => seq));
    expect(stored).toEqual(acknowledged);
  }
  expect(messages).toHaveLength(PRODUCERS * APPENDS_PER_PRODUCER);
}

describe("idempotent producers on Redis through crashes", () => {
  let redis: RunningRedis;
  const servers: RunningServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await redis?.dispose();
  });

  it("keeps every append answered 2xx exactly once, in order, through a kill -9 of the Node process written to", async () => {
    const [first, second] = await Promise.all([
      startServer("node", settingsOn(redis)),
      startServer("bun", settingsOn(redis)),
    ]);
    servers.push(first as RunningServer, second as RunningServer);
    const name = `kill-node-${Date.now()}`;
    await create(first as RunningServer, name, "application/json");
    let target = first as RunningServer;
    let killed = false;
    const run = await produce(
      name,
      () => target,
      (total) => {
        // Well inside the run, with an append in flight from each producer.
        if (total === 80 && !killed) {
          killed = true;
          (first as RunningServer).signal("SIGKILL");
          target = second as RunningServer;
        }
      },
    );
    expect(killed).toBe(true);
    expect(await (first as RunningServer).exited(10_000)).toBe(true);
    expectEachOnceInOrder(await readAll(second as RunningServer, name), run);
    console.info(`kill -9 of Node: ${run.retries} retries, ${run.duplicates} answered as duplicates`);
  });

  it("keeps every append answered 2xx exactly once, in order, through a kill -9 of Redis (AOF, fsync always), and a live reader that resumes sees them all", async () => {
    const server = await startServer("node", settingsOn(redis));
    servers.push(server);
    const name = `kill-redis-${Date.now()}`;
    await create(server, name, "application/json");

    // A reader as a client is: it follows with live=sse and, when the response ends or fails,
    // comes back from the last offset it was given.
    const followed: unknown[] = [];
    let reconnects = 0;
    // Responses that went quiet for PATIENCE_MS while appends went on: a reader left hanging.
    let hangs = 0;
    const follower = (async () => {
      let offset = "-1";
      const deadline = Date.now() + 4 * PATIENCE_MS;
      while (Date.now() < deadline) {
        try {
          const response = await fetch(`${streamUrl(server, name)}?offset=${offset}&live=sse`);
          if (response.status !== 200) throw new Error(`answered ${response.status}`);
          const events = readEvents(response);
          for (;;) {
            const event = await events.next();
            if (event.event === "data") followed.push(...(JSON.parse(event.data) as unknown[]));
            // (The SSE core's `error` event, when a read failed because Redis was away, is skipped:
            // the response ends after it, and the reader comes back.)
            else if (event.event === "control") {
              const control = JSON.parse(event.data) as { streamNextOffset: string; streamClosed?: boolean };
              offset = control.streamNextOffset;
              if (control.streamClosed) return;
            }
          }
        } catch (error) {
          if (String(error).includes("no event within")) hangs++;
          reconnects++;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      throw new Error("the follower never saw the stream closed");
    })();

    let crashed: Promise<void> | undefined;
    const run = await produce(
      name,
      () => server,
      (total) => {
        if (total === 80 && crashed === undefined) {
          crashed = (async () => {
            await redis.stop("SIGKILL");
            await redis.restart();
          })();
        }
      },
    );
    await crashed;
    expect(crashed).toBeDefined();
    const closed = await fetch(streamUrl(server, name), { method: "POST", headers: { "stream-closed": "true" } });
    expect(closed.status).toBe(204);
    const messages = await readAll(server, name);
    expectEachOnceInOrder(messages, run);
    await follower;
    expect(followed).toEqual(messages);
    expect(hangs).toBe(0);
    console.info(
      `kill -9 of Redis: ${run.retries} retries, ${run.duplicates} answered as duplicates, the reader came back ${reconnects} times`,
    );
  });
});
