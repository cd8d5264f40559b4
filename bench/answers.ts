/**
 * `npm run bench:answers`: resumable AI answers in flight. edge-sse's answers (`edge-sse/ai` over the
 * memory or Redis log, bench/answers/edge-sse-server.ts) on Node, Bun and Deno against Vercel's
 * `resumable-stream` (bench/peers/resumable-stream.ts) on the same kind of Redis and Node, same load:
 *
 * - A answers at once, each 20 tokens/s (bench/answers/chunks.ts), each with R readers: the POST that
 *   starts it is the first, R - 1 more follow it with `GET /answers/:id/stream` once it has started.
 *   Delivered tokens/s, p99 from a token's append to its receipt (tokens appended once every reader
 *   was connected), server CPU per delivered token, and memory per answer in flight (the median RSS of the server,
 *   and of redis-server, over the middle half of the answers, less the idle median (after a warm-up of
 *   WARM_UP_ANSWERS short answers), divided by A;
 *   readers' connections included).
 * - "What an answer survives": two processes on one Redis, answers started on A, read on B, then A
 *   killed (SIGKILL) mid-answer: what B's readers get, and what a reader that comes to B afterwards gets.
 *
 * The full run writes bench/results/answers.json and docs/benchmarks-answers.md; any other run writes
 * bench/results/answers-partial.json and leaves the docs alone (unless --report).
 *
 *   npm run bench:answers                     A = 100 and 1000, R = 1 and 3, 200 tokens (10 s) an answer, 3 rounds (about 35 min)
 *   npm run bench:answers -- --quick          A = 50, R = 1 and 3, 40 tokens (2 s) an answer
 *   npm run bench:answers -- --only=resumable --answers=1000 --readers=3
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { signalGroup, stopGroup } from "../test/support/process-group.ts";
import type { AnswerPace } from "./answers/chunks.ts";
import { RESUMABLE_STREAM, renderAnswersReport } from "./answers-report.ts";
import { now, SubscriberPool } from "./load/subscribers.ts";
import { cpuSeconds, processTree, rssBytes } from "./process-stats.ts";
import {
  benchArgs,
  HOST,
  machineDescription,
  measureInRounds,
  mediansOf,
  percentile,
  redisPid,
  sleep,
  startServers,
} from "./run.ts";
import { type JsRuntime, onRuntime, type Target } from "./targets.ts";

export { RESUMABLE_STREAM };
export const EDGE_SSE_ANSWERS = "edge-sse";

export interface AnswersTarget {
  stack: string;
  runtime: JsRuntime;
  backend: "memory" | "redis";
  /** The server's file, under bench/. */
  file: string;
}

export const ANSWERS_TARGETS: AnswersTarget[] = [
  { stack: RESUMABLE_STREAM, runtime: "node", backend: "redis", file: "peers/resumable-stream.ts" },
  ...(["node", "bun", "deno"] as const).flatMap((runtime) =>
    (["memory", "redis"] as const).map((backend) => ({
      stack: EDGE_SSE_ANSWERS,
      runtime,
      backend,
      file: "answers/edge-sse-server.ts",
    })),
  ),
];

/**
 * The command with what lets its server collect its garbage when asked (`POST /collect`,
 * collectGarbage in bench/peers/serve.ts), before the idle reading: Bun can always.
 */
function withCollector(runtime: JsRuntime, { cmd, args }: { cmd: string; args: string[] }) {
  if (runtime === "node") return { cmd, args: ["--expose-gc", ...args] };
  if (runtime === "deno") return { cmd, args: [args[0] as string, "--v8-flags=--expose-gc", ...args.slice(1)] };
  return { cmd, args };
}

/** How a target is started: bench/targets.ts's Target, for bench/run.ts's startServers. */
function serverOf(answers: AnswersTarget, pace: AnswerPace, servers = 1): Target {
  return {
    stack: answers.stack,
    runtime: answers.runtime,
    comparable: true,
    servers,
    redis: answers.backend === "redis",
    command(port, context) {
      const env: Record<string, string> = {
        PORT: String(port),
        HOST,
        ANSWER_TOKENS: String(pace.tokens),
        TOKEN_MS: String(pace.tokenMs),
        // Every reader comes from 127.0.0.1 (FINDINGS.md, "benchmarks from one address").
        MAX_STREAMS: "0",
        MAX_STREAMS_PER_CLIENT: "0",
        KEEP_ALIVE_MS: "30000",
        LOG_LEVEL: "warn",
      };
      if (context?.redisUrl !== undefined) env.REDIS_URL = context.redisUrl;
      return {
        ...withCollector(answers.runtime, onRuntime(answers.runtime, join(import.meta.dirname, answers.file))),
        env,
      };
    },
    statsPath: "/healthz",
    streamPath: "",
    publishPath: "",
    publishBody: () => ({ type: "", body: "" }),
    activeStreams: (stats) => (JSON.parse(stats) as { answersInFlight: number }).answersInFlight,
  };
}

export interface AnswersMeasurement {
  stack: string;
  runtime: string;
  backend: "memory" | "redis";
  /** Answers in flight at once (A) and readers each (R); `n` = A × R readers in all. */
  answers: number;
  readers: number;
  n: number;
  tokensPerAnswer: number;
  tokenMs: number;
  /** What A × R readers at 1000 / tokenMs tokens/s each would receive. */
  offeredTokensPerSecond: number;
  deliveredTokensPerSecond: number;
  p50: number;
  p99: number;
  cpuMicrosPerToken: number;
  /** redis-server's CPU per delivered token, on Redis. */
  redisCpuMicrosPerToken?: number;
  /** RSS growth while the answers run (see sampleRss), per answer in flight: the server's, and redis-server's. */
  serverBytesPerAnswer: number;
  redisBytesPerAnswer?: number;
  lost: number;
  /** Readers not answered 200. */
  failedReaders: number;
}

const postRequest = (id: string, host: string, port: number) =>
  `POST /answers/${id} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n` +
  "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
const getRequest = (id: string, host: string, port: number) =>
  `GET /answers/${id}/stream HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`;

// How often RSS is read while the answers run (see sampleRss).
const RSS_SAMPLE_MS = 100;

/**
 * The median RSS of the server's processes and of redis-server over `forMs`, read every RSS_SAMPLE_MS:
 * one reading lands wherever the garbage collector happens to be (single runs at A = 1,000 moved by
 * 1.7 times between runs, the heap by 60 to 90 MiB within 5 s, Dec 7 2026); a median of the readings
 * over the middle half of the answers does not.
 */
async function sampleRss(
  serverPids: number[],
  redisPids: number[],
  forMs: number,
): Promise<{ server: number; redis: number }> {
  const server: number[] = [];
  const redis: number[] = [];
  const until = now() + forMs;
  do {
    server.push(rssBytes(serverPids));
    redis.push(rssBytes(redisPids));
    await sleep(RSS_SAMPLE_MS);
  } while (now() < until);
  return { server: percentile(server, 50), redis: percentile(redis, 50) };
}

// Short answers run to their end before the idle reading, on every server alike.
const WARM_UP_ANSWERS = 10;
const WARM_UP_TOKENS = 10;
const WARM_UP_SETTLE_MS = 1_000;

/**
 * Runs a few short answers to their end, lets the server settle, and has it collect its garbage: the
 * idle reading then holds what a server keeps once it has served answers (code compiled, connections'
 * buffers, Redis scripts loaded), not a fresh process's start-up garbage (tsx's transpiling, on Node),
 * which a collection during the answers freed: at A = 100 edge-sse's RSS on Redis fell below its idle
 * reading while the answers ran (Dec 7 2026).
 */
async function warmUp(port: number): Promise<void> {
  await Promise.all(
    Array.from({ length: WARM_UP_ANSWERS }, async (_, i) => {
      const url = `http://${HOST}:${port}/answers/warm-up-${i}?tokens=${WARM_UP_TOKENS}`;
      const response = await fetch(url, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      const body = await response.text();
      if (!response.ok || !body.includes("[DONE]")) throw new Error(`warm-up answer ${i}: ${response.status}`);
    }),
  );
  await sleep(WARM_UP_SETTLE_MS);
  const collected = await fetch(`http://${HOST}:${port}/collect`, { method: "POST" });
  if (collected.status !== 204) throw new Error(`POST /collect: ${collected.status}`);
}

/** Until `pools` together have `total` tokens, or none came for `idleMs`. */
async function waitForTokens(pools: SubscriberPool[], total: number, idleMs = 5_000): Promise<number> {
  const received = () => pools.reduce((sum, pool) => sum + pool.received, 0);
  let seen = received();
  let lastProgress = now();
  while (received() < total) {
    await sleep(20);
    if (received() !== seen) {
      seen = received();
      lastProgress = now();
    } else if (now() - lastProgress > idleMs) break;
  }
  return received();
}

/** A answers with R readers each, on a fresh server (and redis-server). */
export async function measureAnswers(
  answers: AnswersTarget,
  count: number,
  readers: number,
  pace: AnswerPace,
): Promise<AnswersMeasurement> {
  const { ports, servers, redis } = await startServers(serverOf(answers, pace));
  const port = ports[0] as number;
  const sampleEvery = Math.max(1, Math.floor(count / 50));
  const starters = new SubscriberPool({
    host: HOST,
    port,
    path: "",
    count,
    sampleEvery,
    marker: "seq=",
    request: (i, host, to) => postRequest(`a${i}`, host, to),
  });
  const followerCount = count * (readers - 1);
  const followers = new SubscriberPool({
    host: HOST,
    port,
    path: "",
    count: followerCount,
    sampleEvery,
    marker: "seq=",
    request: (j, host, to) => getRequest(`a${j % count}`, host, to),
  });
  const pools = followerCount > 0 ? [starters, followers] : [starters];
  const serverTree = () => servers.flatMap((server) => processTree(server.pid as number));
  try {
    const redisPids = redis === undefined ? [] : [await redisPid(redis)];
    await warmUp(port);
    const idle = await sampleRss(serverTree(), redisPids, 1_000);
    const cpuBefore = cpuSeconds(serverTree());
    const redisCpuBefore = cpuSeconds(redisPids);
    const start = now();
    await starters.open();
    if (followerCount > 0) await followers.open();
    // Tokens appended from now on were appended with every reader connected: no replay in their latency.
    const allOpen = now();
    for (const pool of pools) pool.sentAfter = allOpen;
    const answerMs = pace.tokens * pace.tokenMs;
    const inFlight = sleep(Math.max(0, start + answerMs / 4 - now())).then(() =>
      sampleRss(serverTree(), redisPids, answerMs / 2),
    );
    const total = count * readers * pace.tokens;
    const received = await waitForTokens(pools, total);
    const during = await inFlight;
    const serverGrowth = during.server - idle.server;
    const redisGrowth = during.redis - idle.redis;
    const end = Math.max(...pools.map((pool) => pool.lastEventAt));
    const cpuUsed = cpuSeconds(serverTree()) - cpuBefore;
    const redisCpuUsed = cpuSeconds(redisPids) - redisCpuBefore;
    const latencies = pools.flatMap((pool) => pool.latencies);
    return {
      stack: answers.stack,
      runtime: answers.runtime,
      backend: answers.backend,
      answers: count,
      readers,
      n: count * readers,
      tokensPerAnswer: pace.tokens,
      tokenMs: pace.tokenMs,
      offeredTokensPerSecond: (count * readers * 1000) / pace.tokenMs,
      deliveredTokensPerSecond: received / ((end - start) / 1000),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuMicrosPerToken: (cpuUsed * 1e6) / received,
      serverBytesPerAnswer: serverGrowth / count,
      ...(redis === undefined
        ? {}
        : { redisBytesPerAnswer: redisGrowth / count, redisCpuMicrosPerToken: (redisCpuUsed * 1e6) / received }),
      lost: total - received,
      failedReaders: pools.reduce((sum, pool) => sum + pool.failed, 0),
    };
  } finally {
    for (const pool of pools) pool.close();
    await Promise.all(servers.map((server) => stopGroup(server)));
    await redis?.dispose();
  }
}

/** What one reader got, read with fetch until the answer's `[DONE]`, its connection's end, or `deadline`. */
export interface ReaderOutcome {
  status: number;
  tokens: number;
  /** The stream said `[DONE]`. */
  done: boolean;
  /** The `errorText` of an error chunk, if one came. */
  error?: string;
  /** Still open, with no end, at the deadline. */
  open: boolean;
  /** ms from the producer's death to this reader's end (absent while open). */
  endedAfterMs?: number;
}

async function follow(url: string, deadline: number, since: () => number): Promise<ReaderOutcome> {
  const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  const outcome: ReaderOutcome = { status: 0, tokens: 0, done: false, open: false };
  let text = "";
  // What came, also from a reader cut off at the deadline.
  const read = () => {
    outcome.tokens = text.split("seq=").length - 1;
    outcome.done = text.includes("[DONE]");
    const error = /"errorText":"([^"]*)"/.exec(text)?.[1];
    if (error !== undefined) outcome.error = error;
  };
  try {
    const response = await fetch(url, { signal });
    outcome.status = response.status;
    if (response.body === null) return outcome;
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.includes("[DONE]")) {
        await reader.cancel();
        break;
      }
    }
    read();
    outcome.endedAfterMs = since();
    return outcome;
  } catch (error) {
    read();
    if (signal.aborted) outcome.open = true;
    else outcome.error = String((error as Error).message);
    return outcome;
  }
}

export interface SurvivalMeasurement {
  stack: string;
  runtime: string;
  answers: number;
  tokensPerAnswer: number;
  /** Tokens B's readers had, on average, when A died. */
  tokensAtDeath: number;
  /** B's readers (one per answer), read until `deadlineMs` after A's death. */
  followers: ReaderOutcome[];
  /** A reader that came to B one second after A died, for the first answer. */
  late: ReaderOutcome;
  deadlineMs: number;
}

/**
 * Two processes on one Redis: `count` answers started on A, each read by one reader on B; A killed
 * with SIGKILL after `killAfterMs`. B's readers, and a late one, are watched for `deadlineMs`.
 */
export async function measureProducerDeath(
  answers: AnswersTarget,
  count: number,
  pace: AnswerPace,
  { killAfterMs = 1_000, deadlineMs = 25_000 } = {},
): Promise<SurvivalMeasurement> {
  const { ports, servers, redis } = await startServers(serverOf(answers, pace, 2));
  const [portA, portB] = ports as [number, number];
  const starters = new SubscriberPool({
    host: HOST,
    port: portA,
    path: "",
    count,
    sampleEvery: count,
    marker: "seq=",
    request: (i, host, to) => postRequest(`a${i}`, host, to),
  });
  try {
    await starters.open();
    const counts: number[] = [];
    let diedAt = Number.POSITIVE_INFINITY;
    const since = () => now() - diedAt;
    const deadline = () => Date.now() + killAfterMs + deadlineMs;
    const followers = Promise.all(
      Array.from({ length: count }, (_, i) =>
        follow(`http://${HOST}:${portB}/answers/a${i}/stream`, deadline(), since).then((outcome) => {
          counts[i] = outcome.tokens;
          return outcome;
        }),
      ),
    );
    await sleep(killAfterMs);
    const tokensAtDeath = starters.received / count;
    diedAt = now();
    signalGroup(servers[0]?.pid as number, "SIGKILL");
    await sleep(1_000);
    const late = follow(`http://${HOST}:${portB}/answers/a0/stream`, Date.now() + deadlineMs - 1_000, since);
    return {
      stack: answers.stack,
      runtime: answers.runtime,
      answers: count,
      tokensPerAnswer: pace.tokens,
      tokensAtDeath,
      followers: await followers,
      late: await late,
      deadlineMs,
    };
  } finally {
    starters.close();
    await Promise.all(servers.map((server) => stopGroup(server)));
    await redis?.dispose();
  }
}

export interface AnswersRun {
  started: string;
  command: string;
  machine: string;
  runs: number;
  /** What the run's `--note=` said of it (e.g. "machine shared with other work"). */
  note?: string;
  pace: AnswerPace;
  /** Each figure's median over the rounds. */
  results: AnswersMeasurement[];
  /** What each round measured (`rounds[0]` the first): how far the rounds agree (absent in older runs). */
  rounds?: AnswersMeasurement[][];
  survival: SurvivalMeasurement[];
}

const label = (t: { stack: string; runtime: string; backend: string }) => `${t.stack} ${t.runtime} ${t.backend}`;

async function main() {
  const args = benchArgs();
  const quick = args.has("quick");
  const partial = quick || ["only", "answers", "readers", "runs", "tokens"].some((name) => args.has(name));
  const writeDocs = !partial || args.has("report");
  const pace: AnswerPace = { tokens: Number(args.get("tokens") ?? (quick ? 40 : 200)), tokenMs: 50 };
  const counts = (args.get("answers") ?? (quick ? "50" : "100,1000")).split(",").map(Number);
  const readerCounts = (args.get("readers") ?? "1,3").split(",").map(Number);
  // Three rounds in a full run: one run's p99 moved by ten times between runs (Node on Redis, A = 100,
  // R = 1: 150 ms once, 11 to 15 ms four times, Dec 6 2026).
  const runs = Number(args.get("runs") ?? (quick ? 1 : 3));
  const only = args.get("only");
  const targets = ANSWERS_TARGETS.filter((t) => !only || label(t).includes(only));
  const rounds: AnswersMeasurement[][] = [];
  const run: AnswersRun = {
    started: new Date().toISOString(),
    command: `npm run bench:answers${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: machineDescription(),
    runs,
    ...(args.has("note") ? { note: args.get("note") } : {}),
    pace,
    results: [],
    rounds,
    survival: [],
  };
  const file = join(import.meta.dirname, "results", partial ? "answers-partial.json" : "answers.json");
  const save = () => {
    mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
    writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    if (writeDocs) writeFileSync(join(import.meta.dirname, "../docs/benchmarks-answers.md"), renderAnswersReport(run));
  };

  for (const count of counts) {
    for (const readers of readerCounts) {
      const before = run.results.length;
      await measureInRounds(
        targets,
        runs,
        async (target, round) => {
          const measured = await measureAnswers(target, count, readers, pace);
          const thisRound = rounds[round - 1] ?? [];
          thisRound.push(measured);
          rounds[round - 1] = thisRound;
          return measured;
        },
        (target) => `${label(target)} A=${count} R=${readers}`,
        (samples) => {
          run.results.splice(before, run.results.length - before, ...mediansOf(samples));
          save();
        },
      );
      for (const result of run.results.slice(before)) {
        console.log(
          `${label(result).padEnd(30)} A=${String(count).padEnd(5)} R=${readers}  ` +
            `${Math.round(result.deliveredTokensPerSecond).toLocaleString("en").padStart(7)} of ${Math.round(result.offeredTokensPerSecond).toLocaleString("en")} tokens/s  ` +
            `p50/p99 ${result.p50.toFixed(1)}/${result.p99.toFixed(1)} ms  ${(result.serverBytesPerAnswer / 1024).toFixed(1)} KiB/answer  ` +
            `lost ${result.lost}  failed readers ${result.failedReaders}`,
        );
      }
    }
  }
  // Two processes on one Redis, on Node: ours against resumable-stream.
  for (const target of targets.filter((t) => t.backend === "redis" && t.runtime === "node")) {
    try {
      const survival = await measureProducerDeath(target, 10, { tokens: 100, tokenMs: 50 });
      run.survival.push(survival);
      save();
      const ended = survival.followers.filter((f) => f.done).length;
      console.log(
        `${label(target).padEnd(30)} producer killed: ${ended} of ${survival.answers} readers on B ended, ` +
          `late reader ${survival.late.status} with ${survival.late.tokens} tokens${survival.late.open ? ", still open" : ""}`,
      );
    } catch (error) {
      console.error(`${label(target)} producer killed: ${(error as Error).message}`);
    }
  }
}

if (import.meta.filename === process.argv[1]) await main();
