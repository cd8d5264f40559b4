/**
 * `npm run bench:streams`: durable streams (`/v1/stream/*`, the Durable Streams protocol) on edge-sse's
 * demo server (Node, Bun, Deno in memory and on Redis; the Worker under wrangler dev) against Electric's
 * reference server `@durable-streams/server` (Node, bench/peers/durable-streams-reference.ts), in one run:
 *
 * - appends/s: one writer POSTing to one JSON stream, eight writers to that one stream, and eight
 *   writers each to a stream of its own (each writer one keep-alive connection, one POST at a time),
 *   after an unmeasured warm-up of half as many appends;
 * - live-tail fan-out: N readers `?offset=now&live=sse` on one JSON stream; a burst of appends from
 *   8 connections (delivered events/s, server CPU per delivered event), then appends at a steady
 *   rate (p50/p99 from the append's send to its receipt, without queueing).
 *
 * Durable, on Node: the reference with its streams on disk (an fdatasync per append) against edge-sse on
 * a redis-server that fsyncs every write (`appendfsync always`): every 2xx on disk, on both sides.
 *
 * Every server is a process of its own (its CPU and RSS its own, read from /proc as `npm run bench`
 * does), on a redis-server of its own for the Redis targets, stopped before the next starts. The
 * full run writes bench/results/streams.json and docs/benchmarks-streams.md; any other run writes
 * bench/results/streams-partial.json and leaves the docs alone (unless --report).
 *
 *   npm run bench:streams                        N = 1000 and 5000 (the Worker at a fifth of N), one run each
 *   npm run bench:streams -- --quick             N = 200, smaller bursts: a couple of minutes
 *   npm run bench:streams -- --only="@durable-streams/server" --n=1000 --runs=3   (--only: text in "stack runtime backend [durable]")
 *   npm run bench:streams -- --quick --report --note="Machine shared with other work"   (the note goes in the report)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stopGroup } from "../test/support/process-group.ts";
import { Publisher } from "./load/publisher.ts";
import { now, SubscriberPool } from "./load/subscribers.ts";
import { cpuSeconds, processTree, rssBytes } from "./process-stats.ts";
import {
  benchArgs,
  HOST,
  machineDescription,
  measureBurst,
  measureInRounds,
  median,
  mediansOf,
  percentile,
  redisPid,
  sleep,
  startServers,
} from "./run.ts";
import { APPENDS_FLOOR, EDGE_SSE_STREAMS, REFERENCE, renderStreamsReport } from "./streams-report.ts";
import { edgeSse, type Target } from "./targets.ts";

export { APPENDS_FLOOR, EDGE_SSE_STREAMS, REFERENCE };

/** One target's appends: each figure from a fresh stream on the same server. */
export interface AppendsMeasurement {
  stack: string;
  runtime: string;
  backend: StreamsBackend;
  /** Every append answered 2xx was on disk first (see `StreamsTarget.durable`). */
  durable?: boolean;
  /** Appends answered 2xx per second: one writer, one stream. */
  oneWriter: number;
  /** Eight writers on one stream. */
  eightWritersOneStream: number;
  /** Eight writers, each on a stream of its own. */
  eightWritersEightStreams: number;
  /** Server CPU per append in the eight-streams phase, microseconds. */
  cpuMicrosPerAppend: number;
  appends: number;
  /** POSTs not answered 2xx, over all three phases. */
  failures: number;
}

/** One target's live-tail fan-out at N readers. */
export interface FanoutMeasurement {
  stack: string;
  runtime: string;
  backend: StreamsBackend;
  durable?: boolean;
  n: number;
  eventsPerSecond: number;
  cpuMicrosPerEvent: number;
  /** redis-server's own CPU per delivered event (Redis targets). */
  redisCpuMicrosPerEvent?: number;
  steadyP50: number;
  steadyP99: number;
  burstLost: number;
  steadyLost: number;
  publishFailures: number;
  bytesPerReader: number;
}

export interface StreamsPlan {
  /** Appends per phase (all writers together). */
  appends: number;
  /** Rounds of the append phases, every target once per round (run.ts, measureInRounds); each figure is their median. */
  appendRounds: number;
  /** Delivered events per fan-out burst (N readers × M appends). */
  burstEvents: number;
  /** The steady phase's delivered events/s (appends/s = this ÷ N), and its appends. */
  steadyEventsPerSecond: number;
  steadyMessages: number;
}

export const STREAMS_FULL_PLAN: StreamsPlan = {
  appends: 10_000,
  appendRounds: 3,
  burstEvents: 200_000,
  steadyEventsPerSecond: 10_000,
  steadyMessages: 10,
};
export const STREAMS_QUICK_PLAN: StreamsPlan = {
  appends: 1_000,
  appendRounds: 1,
  burstEvents: 20_000,
  steadyEventsPerSecond: 4_000,
  steadyMessages: 6,
};

// As `npm run bench` treats workerd: wrangler dev is far slower than production Workers, so the
// Worker gets a tenth of the load, at a fifth of N, as a figure of its own.
const WORKERD_SLOWER = 10;
const WORKERD_READERS = 0.2;

/** The stream routes' limits off: a benchmark's thousands of appends must not meet STREAM_MAX_*. */
const STREAM_SETTINGS = { STREAM_MAX_APPENDS: "0", STREAM_MAX_BYTES: "0", LOG_LEVEL: "warn" };

/** Where a target keeps its streams: the reference's `dataDir` is "disk" (LMDB and segment files). */
export type StreamsBackend = "memory" | "redis" | "disk";

/** A target of this benchmark: how to start it (bench/targets.ts) and which backend it is. */
export interface StreamsTarget {
  target: Target;
  backend: StreamsBackend;
  /**
   * Every append answered 2xx is on disk first: edge-sse on a redis-server with `appendfsync always`,
   * the reference with its `dataDir` (an fdatasync per append). Compared with each other.
   */
  durable?: boolean;
  /** Measured in the append phases only (a floor that serves no reads). */
  appendsOnly?: boolean;
}

function edgeSseStreams(
  runtime: "node" | "bun" | "deno" | "workerd",
  backend: "memory" | "redis",
  { durable = false } = {},
): StreamsTarget {
  const target = edgeSse(runtime, STREAM_SETTINGS);
  return {
    target: {
      ...target,
      stack: EDGE_SSE_STREAMS,
      statsPath: "/healthz",
      redis: backend === "redis",
      redisDurable: durable,
    },
    backend,
    ...(durable ? { durable } : {}),
  };
}

const reference: StreamsTarget = {
  backend: "memory",
  target: {
    stack: REFERENCE,
    runtime: "node",
    comparable: true,
    command: (port) => ({
      cmd: process.execPath,
      args: ["--import", "tsx", join(import.meta.dirname, "peers/durable-streams-reference.ts")],
      env: { PORT: String(port), HOST },
    }),
    statsPath: "/v1/stream/_ready?offset=-1",
    // Not used here: readers are known to be live once a first append reached every one.
    streamPath: "",
    publishPath: "",
    publishBody: jsonAppend,
    activeStreams: () => Number.NaN,
  },
};

/** The reference with its streams on disk (bench/peers/durable-streams-reference.ts, `DURABLE=on`). */
const durableReference: StreamsTarget = {
  backend: "disk",
  durable: true,
  target: {
    ...reference.target,
    command: (port, context) => {
      const command = reference.target.command(port, context);
      return { ...command, env: { ...command.env, DURABLE: "on" } };
    },
  },
};

/**
 * The node:http floor for appends (bench/peers/floor-stream-appends.ts): what this load client gets
 * from a Node server that keeps each body and answers at once. Appends only (it serves no reads), to
 * show how near the servers come to what node:http and the load client allow.
 */
const appendsFloor: StreamsTarget = {
  backend: "memory",
  appendsOnly: true,
  target: {
    ...reference.target,
    stack: APPENDS_FLOOR,
    comparable: false,
    command: (port) => ({
      cmd: process.execPath,
      args: ["--import", "tsx", join(import.meta.dirname, "peers/floor-stream-appends.ts")],
      env: { PORT: String(port), HOST },
    }),
  },
};

export const STREAMS_TARGETS: StreamsTarget[] = [
  appendsFloor,
  reference,
  edgeSseStreams("node", "memory"),
  edgeSseStreams("node", "redis"),
  durableReference,
  edgeSseStreams("node", "redis", { durable: true }),
  edgeSseStreams("bun", "memory"),
  edgeSseStreams("bun", "redis"),
  edgeSseStreams("deno", "memory"),
  edgeSseStreams("deno", "redis"),
  edgeSseStreams("workerd", "memory"),
];

/** One append to a JSON stream: a message carrying the load client's `seq=… t=…`. */
function jsonAppend(payload: string) {
  return { type: "application/json", body: JSON.stringify({ m: payload }) };
}

const streamUrl = (port: number, name: string) => `http://${HOST}:${port}/v1/stream/${name}`;

async function createStream(port: number, name: string): Promise<void> {
  const response = await fetch(streamUrl(port, name), {
    method: "PUT",
    headers: { "content-type": "application/json" },
  });
  if (response.status !== 201 && response.status !== 200) {
    throw new Error(`PUT ${name}: ${response.status} ${await response.text()}`);
  }
}

/** `writers` writers, one connection each, `total` appends in all to `streams` (writer i to stream i mod streams). */
async function appendPhase(port: number, names: string[], writers: number, total: number) {
  const publishers = Array.from(
    { length: writers },
    (_, i) =>
      new Publisher(
        { host: HOST, port, path: `/v1/stream/${names[i % names.length]}`, body: jsonAppend },
        1, // one connection: one POST at a time per writer
      ),
  );
  const start = now();
  await Promise.all(publishers.map((publisher) => publisher.burst(Math.ceil(total / writers), 1)));
  const seconds = (now() - start) / 1000;
  const failures = publishers.reduce((sum, publisher) => sum + publisher.failures, 0);
  for (const publisher of publishers) publisher.close();
  return { perSecond: (writers * Math.ceil(total / writers) - failures) / seconds, failures };
}

export async function measureAppends(
  { target, backend, durable }: StreamsTarget,
  plan: StreamsPlan,
): Promise<AppendsMeasurement> {
  const appends = Math.round(plan.appends / (target.runtime === "workerd" ? WORKERD_SLOWER : 1));
  const { ports, servers, redis } = await startServers(target);
  const port = ports[0] as number;
  try {
    const one = "appends-one";
    const eight = Array.from({ length: 8 }, (_, i) => `appends-${i}`);
    for (const name of [one, ...eight, "warm-up"]) await createStream(port, name);
    // Unmeasured, on every server alike: the first thousand or so appends on a fresh process run
    // before the JIT has compiled the path (measured here: a fresh server's first 2,000 appends from
    // one writer at a third to half the rate of the next 2,000, on the reference as on edge-sse).
    await appendPhase(port, ["warm-up"], 1, Math.round(appends / 2));
    const oneWriter = await appendPhase(port, [one], 1, appends);
    const sharedStream = await appendPhase(port, [one], 8, appends);
    const pids = servers.flatMap((server) => processTree(server.pid as number));
    const cpuBefore = cpuSeconds(pids);
    const ownStreams = await appendPhase(port, eight, 8, appends);
    const cpuUsed = cpuSeconds(pids) - cpuBefore;
    return {
      stack: target.stack,
      runtime: target.runtime,
      backend,
      ...(durable ? { durable } : {}),
      oneWriter: oneWriter.perSecond,
      eightWritersOneStream: sharedStream.perSecond,
      eightWritersEightStreams: ownStreams.perSecond,
      cpuMicrosPerAppend: (cpuUsed * 1e6) / appends,
      appends,
      failures: oneWriter.failures + sharedStream.failures + ownStreams.failures,
    };
  } finally {
    await Promise.all(servers.map((server) => stopGroup(server)));
    await redis?.dispose();
  }
}

/** N live readers of one JSON stream: a burst, then a steady rate. */
export async function measureFanout(
  { target, backend, durable }: StreamsTarget,
  n: number,
  plan: StreamsPlan,
): Promise<FanoutMeasurement> {
  const slower = target.runtime === "workerd" ? WORKERD_SLOWER : 1;
  const { ports, servers, redis } = await startServers(target);
  const port = ports[0] as number;
  const name = "fanout";
  const pool = new SubscriberPool({
    host: HOST,
    port,
    path: `/v1/stream/${name}?offset=now&live=sse`,
    count: n,
    sampleEvery: Math.max(1, Math.floor(n / 50)),
    // A JSON stream's data event may batch several appends, and every one is followed by a control event.
    marker: "seq=",
  });
  const publisher = new Publisher({ host: HOST, port, path: `/v1/stream/${name}`, body: jsonAppend }, 8);
  const serverTree = () => servers.flatMap((server) => processTree(server.pid as number));
  try {
    await createStream(port, name);
    const redisPids = redis === undefined ? [] : [await redisPid(redis)];
    await sleep(500);
    const rssBefore = rssBytes(serverTree());
    await pool.open();
    // `offset=now` is the tail when the server reads it, which may be after the headers: a first
    // append that every reader receives says all are live.
    await sleep(500);
    await publisher.publish();
    await pool.waitForEvents(n, 10_000);
    if (pool.received < n) throw new Error(`only ${pool.received} of ${n} readers got the first append`);
    const bytesPerReader = (rssBytes(serverTree()) - rssBefore) / n;

    const messages = Math.max(10, Math.round(plan.burstEvents / slower / n));
    const { burstSeconds, cpuUsed, redisCpuUsed, burstReceived } = await measureBurst(
      pool,
      publisher,
      n,
      messages,
      serverTree,
      redisPids,
    );

    await sleep(500);
    pool.resetCounters();
    await publisher.steady(plan.steadyMessages, Math.max(0.5, plan.steadyEventsPerSecond / slower / n));
    await pool.waitForEvents(n * plan.steadyMessages);
    return {
      stack: target.stack,
      runtime: target.runtime,
      backend,
      ...(durable ? { durable } : {}),
      n,
      eventsPerSecond: burstReceived / burstSeconds,
      cpuMicrosPerEvent: (cpuUsed * 1e6) / burstReceived,
      ...(redis === undefined ? {} : { redisCpuMicrosPerEvent: (redisCpuUsed * 1e6) / burstReceived }),
      steadyP50: percentile(pool.latencies, 50),
      steadyP99: percentile(pool.latencies, 99),
      burstLost: n * messages - burstReceived,
      steadyLost: n * plan.steadyMessages - pool.received,
      publishFailures: publisher.failures,
      bytesPerReader,
    };
  } finally {
    pool.close();
    publisher.close();
    await Promise.all(servers.map((server) => stopGroup(server)));
    await redis?.dispose();
  }
}

export interface StreamsRun {
  started: string;
  command: string;
  machine: string;
  runs: number;
  /** What the run's `--note=` said of it (e.g. "machine shared with other work"). */
  note?: string;
  plan: StreamsPlan;
  appends: AppendsMeasurement[];
  fanout: FanoutMeasurement[];
}

/** Readers at a requested N: the Worker under wrangler dev gets a fifth. */
export const readersFor = (target: Target, n: number) =>
  target.runtime === "workerd" ? Math.round(n * WORKERD_READERS) : n;

const label = ({ target, backend, durable }: StreamsTarget) =>
  `${target.stack} ${target.runtime} ${backend}${durable ? " durable" : ""}`;

async function main() {
  const args = benchArgs();
  const quick = args.has("quick");
  const partial = quick || args.has("only") || args.has("n") || args.has("runs");
  const writeDocs = !partial || args.has("report");
  const sizes = (args.get("n") ?? (quick ? "200" : "1000,5000")).split(",").map(Number);
  const runs = Number(args.get("runs") ?? 1);
  // --runs, when given, also sets the append rounds: the run's plan says how many were taken.
  const basePlan = quick ? STREAMS_QUICK_PLAN : STREAMS_FULL_PLAN;
  const plan = { ...basePlan, appendRounds: args.has("runs") ? runs : basePlan.appendRounds };
  const only = args.get("only");
  const targets = STREAMS_TARGETS.filter((t) => !only || label(t).includes(only));
  const run: StreamsRun = {
    started: new Date().toISOString(),
    command: `npm run bench:streams${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: machineDescription(),
    runs,
    ...(args.has("note") ? { note: args.get("note") } : {}),
    plan,
    appends: [],
    fanout: [],
  };
  const file = join(import.meta.dirname, "results", partial ? "streams-partial.json" : "streams.json");
  const save = () => {
    mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
    writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    if (writeDocs) writeFileSync(join(import.meta.dirname, "../docs/benchmarks-streams.md"), renderStreamsReport(run));
  };
  const repeat = async <T extends { n: number }>(what: string, measure: () => Promise<T>): Promise<T | undefined> => {
    const samples: T[] = [];
    for (let i = 0; i < runs; i++) {
      try {
        samples.push(await measure());
      } catch (error) {
        console.error(`${what}: ${(error as Error).message}`);
      }
    }
    return samples.length === 0 ? undefined : median(samples);
  };

  const rounds = plan.appendRounds;
  const appendSamples = await measureInRounds(
    targets,
    rounds,
    async (target, round) => {
      const appends = await measureAppends(target, plan);
      console.log(
        `${label(target).padEnd(36)} round ${round}/${rounds} appends/s 1w ${Math.round(appends.oneWriter)}  ` +
          `8w/1s ${Math.round(appends.eightWritersOneStream)}  8w/8s ${Math.round(appends.eightWritersEightStreams)}  ` +
          `${appends.cpuMicrosPerAppend.toFixed(0)} µs cpu/append  failed ${appends.failures}`,
      );
      return appends;
    },
    (target) => `${label(target)} appends`,
  );
  run.appends = mediansOf(appendSamples);
  save();
  for (const n of sizes) {
    for (const target of targets.filter((t) => !t.appendsOnly)) {
      const readers = readersFor(target.target, n);
      const result = await repeat(`${label(target)} N=${readers}`, () => measureFanout(target, readers, plan));
      if (!result) continue;
      run.fanout.push(result);
      save();
      console.log(
        `${label(target).padEnd(36)} N=${String(readers).padEnd(5)} ${Math.round(result.eventsPerSecond).toLocaleString("en").padStart(9)} ev/s  ` +
          `${result.cpuMicrosPerEvent.toFixed(2)} µs cpu/ev  p50/p99 ${result.steadyP50.toFixed(1)}/${result.steadyP99.toFixed(1)} ms  ` +
          `lost ${result.burstLost + result.steadyLost}`,
      );
    }
  }
}

if (import.meta.filename === process.argv[1]) await main();
