/**
 * `npm run bench`: fan-out throughput, latency, memory and connection ramp of edge-sse (in memory,
 * and with REDIS_URL on a redis-server of its own) and its peers, side by side in one run on this
 * machine. The full run writes bench/results/latest.json and docs/benchmarks.md (with
 * docs/benchmarks-throughput.svg); any other run (--quick, --only, --n, --runs) writes
 * bench/results/quick.json or partial.json instead and leaves the docs alone (unless --report), so
 * a partial run never replaces the full report.
 *
 *   npm run bench                      full run: N = 1000, 5000, 10000; median of 3 runs (about 70 min)
 *   npm run bench -- --quick           a few minutes: N = 1000, one run each
 *   npm run bench -- --only=edge-sse   targets whose "stack runtime" contains the text
 *   npm run bench -- --only=Redis      edge-sse on Redis only (one and two processes)
 *   npm run bench -- --only="edge-sse node,edge-sse deno,nchan"   any of several (comma-separated)
 *   npm run bench -- --n=2000 --runs=5
 *   npm run bench -- --only=workerd --n=1000,5000 --runs=1   the Workers figures alone (a few minutes)
 *
 * Everything talks to 127.0.0.1 only; every server is stopped before the next starts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { freePort, stopGroup, waitUntilServing } from "../test/support/process-group.ts";
import { type RunningRedis, startRedis } from "../test/support/redis.ts";
import { Publisher } from "./load/publisher.ts";
import { now, SubscriberPool } from "./load/subscribers.ts";
import { cpuSeconds, processTree, rssBytes } from "./process-stats.ts";
import { type Run, writeReport } from "./report.ts";
import { type ServerContext, TARGETS, type Target } from "./targets.ts";

export interface Measurement {
  stack: string;
  runtime: string;
  comparable: boolean;
  n: number;
  /** Delivered events per second during the burst. */
  burstEventsPerSecond: number;
  /** Server CPU time per delivered event in the burst, microseconds. */
  burstCpuMicrosPerEvent: number;
  burstLost: number;
  steadyLost: number;
  /** Publish-to-receive latency at a steady publish rate, ms. */
  steadyP50: number;
  steadyP99: number;
  burstP50: number;
  burstP99: number;
  rssIdleBase: number;
  rssWithSubscribers: number;
  bytesPerConnection: number;
  rampMs: number;
  cleanupMs: number;
  /** Server processes (absent: 1); CPU and RSS above are summed over all of them. */
  processes?: number;
  /** Each process's own count of subscribers once all N were open. */
  subscribersPerProcess?: number[];
  /** On Redis: redis-server's CPU time per delivered event in the burst, microseconds (not in the server's). */
  redisCpuMicrosPerEvent?: number;
  /** POSTs not answered 2xx (a 503 from a Redis command timeout shows here, and as lost events); absent in older runs. */
  publishFailures?: number;
  /** Runs that completed, of those asked for: the figures are their median (absent in older runs). */
  completedRuns?: number;
}

export const HOST = "127.0.0.1";

/** How much each measurement publishes. */
export interface Plan {
  /** Events per burst in all (N subscribers × M messages). */
  burstEvents: number;
  /**
   * The steady phase offers the same delivered events/s at every N (messages/s = this ÷ N):
   * under every stack's capacity, so its latency is delivery, not a queue.
   */
  steadyEventsPerSecond: number;
  steadyMessages: number;
}

export const FULL_PLAN: Plan = { burstEvents: 300_000, steadyEventsPerSecond: 10_000, steadyMessages: 10 };
export const QUICK_PLAN: Plan = { burstEvents: 100_000, steadyEventsPerSecond: 10_000, steadyMessages: 8 };
// wrangler dev is far slower than production Workers: workerd runs with a tenth of the burst and
// of the steady rate, as a figure of its own. At N = 10,000 wrangler dev's proxy workerd holds two
// descriptors per stream (the client's and its own to the app's workerd): measured here, it failed
// with "Too many open files" at the limit of 20,000 (`ulimit -n`, hard and soft) and reset connections.
const WORKERD_SIZES = [1000, 5000, 10000];
const WORKERD_SLOWER = 10;

/** The machine a run measured, as every report heads its figures. */
export function machineDescription(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startServer(target: Target, port: number, context?: ServerContext): Promise<ChildProcess> {
  const { cmd, args: argv, env } = target.command(port, context);
  // detached: a group of its own, so stopGroup reaches workerd under wrangler too.
  const child = spawn(cmd, argv, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let errors = "";
  child.stderr?.on("data", (chunk) => {
    errors += chunk;
  });
  try {
    await waitUntilServing(`http://${HOST}:${port}${target.statsPath}`, child, 60_000);
  } catch (error) {
    await stopGroup(child);
    throw new Error(`${target.stack} on ${target.runtime} did not start: ${(error as Error).message}\n${errors}`);
  }
  return child;
}

async function activeStreams(target: Target, port: number): Promise<number> {
  const response = await fetch(`http://${HOST}:${port}${target.statsPath}`);
  return target.activeStreams(await response.text());
}

/** Each server process's own count, for a target served by several. */
const activeStreamsEach = (target: Target, ports: number[]) =>
  Promise.all(ports.map((port) => activeStreams(target, port)));
const activeStreamsAll = async (target: Target, ports: number[]) =>
  (await activeStreamsEach(target, ports)).reduce((sum, count) => sum + count, 0);

/** The redis-server's own process, to count its CPU apart from the app's. */
export async function redisPid(redis: RunningRedis): Promise<number> {
  const info = String(await redis.command("INFO", "server"));
  return Number(/process_id:(\d+)/.exec(info)?.[1]);
}

/**
 * The target's server processes, each on a port of its own, on a redis-server started first if
 * the target wants one: Redis without persistence (`--save "" --appendonly no`), since the
 * benchmark measures the hub, not the disk, unless the target asks for a durable one (`redisDurable`).
 */
export async function startServers(
  target: Target,
): Promise<{ ports: number[]; servers: ChildProcess[]; redis: RunningRedis | undefined }> {
  const redis = target.redis ? await startRedis({ durable: target.redisDurable === true }) : undefined;
  const ports: number[] = [];
  const servers: ChildProcess[] = [];
  try {
    for (let server = 0; server < (target.servers ?? 1); server++) {
      const port = await freePort(HOST);
      servers.push(await startServer(target, port, { server, redisUrl: redis?.url }));
      ports.push(port);
    }
  } catch (error) {
    await Promise.all(servers.map((child) => stopGroup(child)));
    await redis?.dispose();
    throw error;
  }
  return { ports, servers, redis };
}

/**
 * A burst of `messages` from 8 publishing connections to the pool's `readers`: how long until the
 * last event arrived, the server's and redis-server's CPU seconds meanwhile, and the events received.
 */
export async function measureBurst(
  pool: SubscriberPool,
  publisher: Publisher,
  readers: number,
  messages: number,
  serverTree: () => number[],
  redisPids: number[],
) {
  pool.resetCounters();
  const cpuBefore = cpuSeconds(serverTree());
  const redisCpuBefore = cpuSeconds(redisPids);
  const burstStart = now();
  await publisher.burst(messages, 8);
  await pool.waitForEvents(readers * messages);
  return {
    burstSeconds: (pool.lastEventAt - burstStart) / 1000,
    cpuUsed: cpuSeconds(serverTree()) - cpuBefore,
    redisCpuUsed: cpuSeconds(redisPids) - redisCpuBefore,
    burstReceived: pool.received,
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** One measurement: a fresh server, N subscribers, a burst, a steady phase, then cleanup. */
export async function measureOnce(target: Target, n: number, plan: Plan): Promise<Measurement> {
  const slower = target.runtime === "workerd" ? WORKERD_SLOWER : 1;
  const { ports, servers, redis } = await startServers(target);
  const port = ports[0] as number;
  const pool = new SubscriberPool({
    host: HOST,
    port,
    ports,
    path: target.streamPath,
    count: n,
    sampleEvery: Math.max(1, Math.floor(n / 50)),
  });
  const publisher = new Publisher({ host: HOST, port, ports, path: target.publishPath, body: target.publishBody }, 8);
  // Every server process and its children, summed.
  const serverTree = () => servers.flatMap((server) => processTree(server.pid as number));
  try {
    const pids = serverTree();
    const redisPids = redis === undefined ? [] : [await redisPid(redis)];
    await sleep(500);
    const rssIdleBase = rssBytes(pids);

    const rampStart = now();
    await pool.open();
    const rampMs = now() - rampStart;
    const registered = Date.now() + 10_000;
    while ((await activeStreamsAll(target, ports)) < n && Date.now() < registered) await sleep(50);
    const subscribersPerProcess = await activeStreamsEach(target, ports);
    await sleep(1_000);
    const rssWithSubscribers = rssBytes(pids);

    // Burst: M messages as fast as 8 publishing connections go.
    const messages = Math.max(10, Math.round(plan.burstEvents / slower / n));
    const { burstSeconds, cpuUsed, redisCpuUsed, burstReceived } = await measureBurst(
      pool,
      publisher,
      n,
      messages,
      serverTree,
      redisPids,
    );
    const burstLatencies = [...pool.latencies];

    // Steady: a fixed publish rate, for latency without queueing.
    await sleep(500);
    pool.resetCounters();
    await publisher.steady(plan.steadyMessages, Math.max(0.5, plan.steadyEventsPerSecond / slower / n));
    await pool.waitForEvents(n * plan.steadyMessages);
    const steadyReceived = pool.received;
    const steadyLatencies = [...pool.latencies];

    const closedAt = now();
    pool.close();
    let cleanupMs = Number.NaN;
    const cleanupDeadline = Date.now() + 30_000;
    while (Date.now() < cleanupDeadline) {
      if ((await activeStreamsAll(target, ports)) === 0) {
        cleanupMs = now() - closedAt;
        break;
      }
      await sleep(20);
    }

    return {
      stack: target.stack,
      runtime: target.runtime,
      comparable: target.comparable,
      n,
      burstEventsPerSecond: burstReceived / burstSeconds,
      burstCpuMicrosPerEvent: (cpuUsed * 1e6) / burstReceived,
      burstLost: n * messages - burstReceived,
      steadyLost: n * plan.steadyMessages - steadyReceived,
      steadyP50: percentile(steadyLatencies, 50),
      steadyP99: percentile(steadyLatencies, 99),
      burstP50: percentile(burstLatencies, 50),
      burstP99: percentile(burstLatencies, 99),
      rssIdleBase,
      rssWithSubscribers,
      bytesPerConnection: (rssWithSubscribers - rssIdleBase) / n,
      rampMs,
      cleanupMs,
      ...(servers.length > 1 ? { processes: servers.length, subscribersPerProcess } : {}),
      ...(redis === undefined ? {} : { redisCpuMicrosPerEvent: (redisCpuUsed * 1e6) / burstReceived }),
      publishFailures: publisher.failures,
    };
  } finally {
    pool.close();
    publisher.close();
    await Promise.all(servers.map((server) => stopGroup(server)));
    await redis?.dispose();
  }
}

/**
 * Measures every target `rounds` times, round by round, every target once per round: this machine's
 * speed drifts by up to 2 to 3 times over minutes (Dec 6 2026: the durable streams reference's
 * 1-writer appends/s 4,900 and then 12,900, five minutes apart), and a target's runs back to back would
 * all meet one moment, the next target's another. A measurement that fails is reported (`describe`
 * names it) and left out. `roundDone` gets every target's samples so far after each round.
 */
export async function measureInRounds<T, M>(
  targets: readonly T[],
  rounds: number,
  measure: (target: T, round: number) => Promise<M>,
  describe: (target: T) => string,
  roundDone?: (samples: Map<T, M[]>) => void,
): Promise<Map<T, M[]>> {
  const samples = new Map<T, M[]>(targets.map((target) => [target, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const target of targets) {
      try {
        samples.get(target)?.push(await measure(target, round));
      } catch (error) {
        console.error(`${describe(target)}, round ${round} of ${rounds}: ${(error as Error).message}`);
      }
    }
    roundDone?.(samples);
  }
  return samples;
}

/** Each target's median (`median`), in the targets' order; a target with no sample is left out. */
export function mediansOf<M extends object>(samples: Map<unknown, M[]>): M[] {
  return [...samples.values()].filter((measured) => measured.length > 0).map((measured) => median(measured));
}

/** Each numeric figure's median over the runs (the others from the first run); `n` is not a figure. */
export function median<T extends object>(measurements: T[]): T {
  const first = measurements[0] as T;
  const result = { ...first };
  for (const key of Object.keys(first) as (keyof T)[]) {
    if (typeof first[key] !== "number" || key === "n") continue;
    const values = measurements.map((m) => m[key] as number).sort((a, b) => a - b);
    (result[key] as number) = values[Math.floor(values.length / 2)] as number;
  }
  return result;
}

/**
 * The command line's flags, `--name=value` (a bare `--name` is "true"), as every benchmark takes them.
 * Split at the first "=" only: `--only=METRICS=on bun` names a target.
 */
export function benchArgs(argv: string[] = process.argv.slice(2)): Map<string, string> {
  return new Map(
    argv.map((arg) => {
      const [name, ...value] = arg.replace(/^--/, "").split("=");
      return [name as string, value.length === 0 ? "true" : value.join("=")];
    }),
  );
}

async function main() {
  const args = benchArgs();
  const quick = args.has("quick");
  // Only the full run replaces latest.json and the docs.
  const partial = quick || args.has("only") || args.has("n") || args.has("runs");
  const file = quick ? "quick.json" : partial ? "partial.json" : "latest.json";
  const writeDocs = !partial || args.has("report");
  const plan = quick ? QUICK_PLAN : FULL_PLAN;
  const sizes = (args.get("n") ?? (quick ? "1000" : "1000,5000,10000")).split(",").map(Number);
  const runs = Number(args.get("runs") ?? (quick ? 1 : 3));
  const only = args.get("only")?.split(",");
  const targets = TARGETS.filter(
    (target) => !only || only.some((text) => `${target.stack} ${target.runtime}`.includes(text)),
  );
  const results: Measurement[] = [];
  const started = new Date();
  for (const n of sizes) {
    const atThisSize = targets.filter((target) => target.runtime !== "workerd" || WORKERD_SIZES.includes(n));
    const before = results.length;
    await measureInRounds(
      atThisSize,
      runs,
      (target) => measureOnce(target, n, plan),
      (target) => `${target.stack} on ${target.runtime}, N=${n}`,
      (samples) => {
        // After every round, so an interrupted run still leaves what it measured.
        const medians = [...samples.values()]
          .filter((measured) => measured.length > 0)
          .map((measured) => ({ ...median(measured), completedRuns: measured.length }));
        results.splice(before, results.length - before, ...medians);
        save({ file, writeDocs, runs, plan, started, results });
      },
    );
    for (const result of results.slice(before)) {
      console.log(
        `${result.stack.padEnd(22)} ${result.runtime.padEnd(8)} N=${String(n).padEnd(6)} ` +
          `${Math.round(result.burstEventsPerSecond).toLocaleString("en").padStart(10)} ev/s  ` +
          `${result.burstCpuMicrosPerEvent.toFixed(2).padStart(6)} µs cpu/ev  ` +
          `p50/p99 ${result.steadyP50.toFixed(1)}/${result.steadyP99.toFixed(1)} ms  ` +
          `${Math.round(result.bytesPerConnection).toLocaleString("en")} B/conn  lost ${result.burstLost + result.steadyLost}`,
      );
      if (result.publishFailures) console.warn(`  ${result.publishFailures} publishes failed`);
    }
  }
}

interface Progress {
  /** In bench/results/. */
  file: string;
  writeDocs: boolean;
  runs: number;
  plan: Plan;
  started: Date;
  results: Measurement[];
}

function save({ file, writeDocs, runs, plan, started, results }: Progress): void {
  const run: Run = {
    started: started.toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: machineDescription(),
    runs,
    ...plan,
    results,
  };
  const resultsDir = join(import.meta.dirname, "results");
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, file), `${JSON.stringify(run, null, 2)}\n`);
  if (writeDocs) writeReport(run);
}

if (import.meta.filename === process.argv[1]) await main();
