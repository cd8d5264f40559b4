/**
 * Scale-out on Redis: one Node, one Bun and one Deno server on one real redis-server, read by
 * `eventsource` clients. Every acknowledged id reaches every subscriber exactly once and in order,
 * whichever process it was posted to or read from, through pub/sub connections killed mid-burst,
 * a Redis restart, and a process killed with SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppFetch, checkIdempotency, checkRoundTrip } from "../support/channel-events.ts";
import { IdSubscriber } from "../support/id-subscriber.ts";
import { promtoolCheck, sample } from "../support/metrics.ts";
import { spawnGroup } from "../support/process-group.ts";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";
import { eventually } from "../support/sse-reader.ts";

const RUNTIMES: Runtime[] = ["node", "bun", "deno"];

/** A subscriber that knows which server it follows, and can move to another with its last id. */
class Subscriber extends IdSubscriber {
  constructor(
    private readonly path: string,
    public server: RunningServer,
  ) {
    super(`${server.url}${path}`);
  }

  moveTo(server: RunningServer) {
    this.server = server;
    this.resume(`${server.url}${this.path}`);
  }
}

interface PostResult {
  status: number;
  id?: number;
}

async function post(server: RunningServer, channel: string, text: string): Promise<PostResult> {
  const response = await fetch(`${server.url}/api/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
    signal: AbortSignal.timeout(15_000),
  });
  if (response.status !== 201) return { status: response.status };
  return { status: 201, id: ((await response.json()) as { id: number }).id };
}

/** Posts `count` messages round-robin over `servers`, 3 at a time; returns the acknowledged ids, sorted. */
async function publishAcross(servers: RunningServer[], channel: string, count: number): Promise<number[]> {
  const ids: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      while (next < count) {
        const n = next++;
        const result = await post(servers[n % servers.length] as RunningServer, channel, `message ${n}`);
        if (result.status !== 201) throw new Error(`POST answered ${result.status}`);
        ids.push(result.id as number);
      }
    }),
  );
  return ids.sort((a, b) => a - b);
}

async function waitForAll(subscribers: { ids: number[] }[], count: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (subscribers.some((subscriber) => subscriber.ids.length < count) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const history = async (server: RunningServer, channel: string) => {
  const response = await fetch(`${server.url}/api/channels/${channel}/messages?limit=1000`);
  return ((await response.json()) as { messages: { id: number; text: string }[] }).messages;
};

describe("three runtimes on one Redis", () => {
  let redis: RunningRedis;
  let servers: RunningServer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const settings = {
      REDIS_URL: redis.url,
      REDIS_TIMEOUT_MS: "1000",
      KEEP_ALIVE_MS: "500",
      RETRY_MS: "200",
      MAX_STREAMS_PER_CLIENT: "0",
      PUBLISH_RATE_LIMIT: "0",
    };
    servers = await Promise.all(RUNTIMES.map((runtime) => startServer(runtime, settings)));
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await redis?.dispose();
  });

  const subscribe = async (channel: string, count: number) => {
    const subscribers = Array.from(
      { length: count },
      (_, i) =>
        new Subscriber(`/api/channels/${channel}/messages/stream`, servers[i % servers.length] as RunningServer),
    );
    await Promise.all(subscribers.map((subscriber) => subscriber.opened));
    return subscribers;
  };

  it("delivers 300 messages posted to all three to 20 subscribers on all three, each id once and in order", async () => {
    const channel = `matrix-${Date.now()}`;
    const subscribers = await subscribe(channel, 20);
    // One subscriber moves to the next runtime once it has seen a third of the messages.
    const mover = subscribers[0] as Subscriber;
    let moved = false;
    const watch = setInterval(() => {
      if (!moved && mover.ids.length >= 100) {
        moved = true;
        mover.moveTo(servers[1] as RunningServer);
      }
    }, 5);
    const acknowledged = await publishAcross(servers, channel, 300);
    await waitForAll(subscribers, 300);
    clearInterval(watch);
    expect(moved).toBe(true);
    for (const subscriber of subscribers) expect(subscriber.ids).toEqual(acknowledged);
    // The history is the same on every process.
    const histories = await Promise.all(servers.map((server) => history(server, channel)));
    for (const listed of histories) expect(listed.map((message) => message.id)).toEqual(acknowledged);
    for (const subscriber of subscribers) subscriber.close();
  });

  it("stores one event for one Idempotency-Key posted to all three at once, and round-trips any JSON value", async () => {
    const apps: AppFetch[] = servers.map((server) => (path, init) => fetch(`${server.url}${path}`, init));
    await checkIdempotency(apps, `idempotent-${Date.now()}`, 12);
    // On Bun, through Redis: published, followed, replayed and listed.
    await checkRoundTrip(apps[1] as AppFetch, `values-${Date.now()}`);
  });

  it("loses nothing and repeats nothing when the pub/sub connections are killed twice during a burst", async () => {
    const channel = `killed-${Date.now()}`;
    const subscribers = await subscribe(channel, 6);
    let kills = 0;
    const burst = publishAcross(servers, channel, 300);
    const killer = (async () => {
      for (const after of [60, 180]) {
        while ((subscribers[0] as Subscriber).ids.length < after)
          await new Promise((resolve) => setTimeout(resolve, 2));
        const killed = (await redis.command("CLIENT", "KILL", "TYPE", "pubsub")) as number;
        if (killed > 0) kills++;
      }
    })();
    const acknowledged = await burst;
    await killer;
    expect(kills).toBe(2);
    await waitForAll(subscribers, 300);
    for (const subscriber of subscribers) expect(subscriber.ids).toEqual(acknowledged);
    for (const subscriber of subscribers) subscriber.close();
  });

  it("answers 503 while Redis is stopped, then keeps every acknowledged message and numbers on upwards", async () => {
    const channel = `restart-${Date.now()}`;
    const subscribers = await subscribe(channel, 3);
    const before = await publishAcross(servers, channel, 30);
    await waitForAll(subscribers, 30);
    await redis.stop();
    try {
      for (const server of servers) {
        const refused = await fetch(`${server.url}/api/channels/${channel}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text: "while Redis is down" }),
          signal: AbortSignal.timeout(15_000),
        });
        expect(refused.status).toBe(503);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("backend_unavailable");
      }
    } finally {
      await redis.restart();
    }
    // Each server reconnects by itself; publish to each until it answers 201.
    const after: number[] = [];
    for (const server of servers) {
      let result = await post(server, channel, "after the restart");
      while (result.status === 503) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        result = await post(server, channel, "after the restart");
      }
      expect(result.status).toBe(201);
      after.push(result.id as number);
    }
    expect(Math.min(...after)).toBeGreaterThan(before.at(-1) as number);
    const listed = await history(servers[2] as RunningServer, channel);
    expect(listed.map((message) => message.id)).toEqual([...before, ...after].sort((a, b) => a - b));
    expect(listed.some((message) => message.text === "while Redis is down")).toBe(false);
    await waitForAll(subscribers, 33);
    for (const subscriber of subscribers) expect(subscriber.ids).toEqual([...before, ...after].sort((a, b) => a - b));
    for (const subscriber of subscribers) subscriber.close();
  });

  it("moves the clients of a process killed with SIGKILL to another, with nothing lost", async () => {
    const channel = `sigkill-${Date.now()}`;
    const subscribers = await subscribe(channel, 9);
    const victim = servers[2] as RunningServer;
    const survivors = servers.slice(0, 2);
    const first = await publishAcross(servers, channel, 50);
    await waitForAll(subscribers, 50);
    victim.signal("SIGKILL");
    expect(await victim.exited(10_000)).toBe(true);
    servers = survivors;
    // What is posted while they are away they get on resuming elsewhere.
    const during = await publishAcross(survivors, channel, 50);
    for (const subscriber of subscribers) {
      if (subscriber.server === victim) subscriber.moveTo(survivors[0] as RunningServer);
    }
    const later = await publishAcross(survivors, channel, 50);
    const all = [...first, ...during, ...later];
    await waitForAll(subscribers, all.length);
    for (const subscriber of subscribers) expect(subscriber.ids).toEqual(all);
    for (const subscriber of subscribers) subscriber.close();
    await victim.stop();
  });
});

describe("the publish rate limit on Redis", () => {
  let redis: RunningRedis;
  let servers: RunningServer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const settings = { REDIS_URL: redis.url, PUBLISH_RATE_LIMIT: "10" };
    servers = await Promise.all((["node", "bun"] as const).map((runtime) => startServer(runtime, settings)));
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await redis?.dispose();
  });

  it("is shared by every process: 10 a minute in all, not 10 on each", async () => {
    const channel = `limited-${Date.now()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await post(servers[i % 2] as RunningServer, channel, `m${i}`)).status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429, 429, 429]);
    expect(await eventually(async () => (await history(servers[1] as RunningServer, channel)).length, 10)).toBe(10);
  });
});

describe.each(RUNTIMES)("start-up with a bad REDIS_URL on %s", (runtime) => {
  it("stops at once with one line that names the setting, and exit code 1", async () => {
    const { child, output } = spawnGroup("npm", ["--silent", "run", `start:${runtime}`], {
      env: { ...process.env, REDIS_URL: "redis://:hunter2@127.0.0.1:99999", PORT: "0" },
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    const lines = output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: "error",
      message:
        "edge-sse cannot start: REDIS_URL must look like redis://[user:password@]host:port[/db] (or rediss:// for TLS)",
    });
    expect(output()).not.toContain("hunter2");
  });
});

describe("operations on Redis", () => {
  let redis: RunningRedis;
  let server: RunningServer;

  beforeAll(async () => {
    redis = await startRedis();
    server = await startServer("node", { REDIS_URL: redis.url, METRICS: "on", PUBLISH_RATE_LIMIT: "0" });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.dispose();
  });

  const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
  const ready = async () => (await fetch(`${server.url}/readyz`)).status;

  it("reports Redis in /metrics (lint-clean), /readyz and its log as the connection goes and comes back", async () => {
    const channel = `ops-${Date.now()}`;
    const subscriber = new IdSubscriber(`${server.url}/api/channels/${channel}/messages/stream`);
    await subscriber.opened;
    const first = await post(server, channel, "before");
    expect(first.status).toBe(201);
    let exposition = await metrics();
    expect(promtoolCheck(exposition)).toEqual({ status: 0, output: "" });
    expect(sample(exposition, "edge_sse_redis_connected")).toBe(1);
    expect(sample(exposition, "edge_sse_messages_published_total")).toBe(1);

    await redis.stop();
    try {
      expect(await eventually(ready, 503)).toBe(503);
      expect(sample(await metrics(), "edge_sse_redis_connected")).toBe(0);
    } finally {
      await redis.restart();
    }
    expect(await eventually(ready, 200)).toBe(200);
    // Published while this process's pub/sub was down: read back from the history.
    await redis.command("CLIENT", "KILL", "TYPE", "pubsub");
    const second = await post(server, channel, "after");
    expect(second.status).toBe(201);
    await waitForAll([subscriber], 2);
    expect(subscriber.ids).toEqual([first.id, second.id]);
    exposition = await metrics();
    expect(promtoolCheck(exposition)).toEqual({ status: 0, output: "" });
    expect(sample(exposition, "edge_sse_redis_recoveries_total")).toBeGreaterThanOrEqual(1);
    subscriber.close();

    const lines = server
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: string; message: string });
    expect(
      lines.filter((line) => line.level === "warn" && line.message.startsWith("Redis unreachable")).length,
    ).toBeGreaterThanOrEqual(1);
    expect(lines.filter((line) => line.message === "connected to Redis").length).toBeGreaterThanOrEqual(2);
  });
});
