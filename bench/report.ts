/**
 * Turns a benchmark run (bench/results/latest.json) into docs/benchmarks.md and
 * docs/benchmarks-throughput.svg. `npx tsx bench/report.ts [results.json]` rewrites them from a
 * saved run without measuring again.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { throughputChart } from "./chart.ts";
import type { Measurement } from "./run.ts";
import {
  EDGE_SSE,
  EDGE_SSE_METRICS,
  EDGE_SSE_REDIS,
  EDGE_SSE_REDIS_TWO,
  EDGE_SSE_WORKERD_DIRECT,
  PEERS,
  WORKERD_KEEP_ALIVE_MS,
} from "./targets.ts";

export interface Run {
  started: string;
  command: string;
  machine: string;
  runs: number;
  burstEvents: number;
  steadyEventsPerSecond: number;
  steadyMessages: number;
  results: Measurement[];
}

const RUNTIMES = ["node", "bun", "deno", "nginx"] as const;
const RUNTIME_NAMES: Record<string, string> = {
  node: "Node",
  bun: "Bun",
  deno: "Deno",
  workerd: "workerd",
  nginx: "nginx (C)",
};
const CHART_FILE = "benchmarks-throughput.svg";

const int = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString("en") : "–");
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const kib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : "–");
const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : "–");
const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** edge-sse itself, in memory, on Redis or with metrics: in bold, and compared with the peers, not with each other here. */
const EDGE_SSE_STACKS = new Set([EDGE_SSE, EDGE_SSE_REDIS, EDGE_SSE_REDIS_TWO, EDGE_SSE_METRICS]);
const isEdgeSse = (stack: string) => EDGE_SSE_STACKS.has(stack);

/** One table per runtime: a row per stack, a column per N with the value and edge-sse's ratio to it. */
function perRuntimeTables(
  run: Run,
  format: (value: number) => string,
  pick: (m: Measurement) => number,
  ratioNote: string,
): string {
  const sizes = [...new Set(run.results.filter((m) => m.comparable).map((m) => m.n))].sort((a, b) => a - b);
  const sections: string[] = [];
  for (const runtime of RUNTIMES) {
    const rows = run.results.filter((m) => m.runtime === runtime);
    if (rows.length === 0) continue;
    const stacks = [...new Set(rows.map((m) => m.stack))];
    const body = stacks.map((stack) => [
      isEdgeSse(stack) ? `**${stack}**` : stack,
      ...sizes.map((n) => {
        const measured = rows.find((m) => m.stack === stack && m.n === n);
        const ours = rows.find((m) => m.stack === EDGE_SSE && m.n === n);
        if (!measured) return "–";
        const value = format(pick(measured));
        if (!ours || isEdgeSse(stack)) return value;
        return `${value} (${ratio(pick(ours) / pick(measured))})`;
      }),
    ]);
    sections.push(`**${RUNTIME_NAMES[runtime]}**\n\n${table(["stack", ...sizes.map((n) => `N = ${int(n)}`)], body)}`);
  }
  return `${sections.join("\n\n")}\n\n${ratioNote}`;
}

function find(run: Run, stack: string, runtime: string, n: number): Measurement | undefined {
  return run.results.find((m) => m.stack === stack && m.runtime === runtime && m.n === n);
}

const verdict = (met: boolean) => (met ? "met" : "**missed**");

/** A target's row: `ours ÷ theirs`, and whether it is at least `wanted` (at most, unless `higher`). */
function ratioRow(
  goal: string,
  ours: number | undefined,
  theirs: number | undefined,
  wanted: number,
  higher: boolean,
): string[] {
  if (ours === undefined || theirs === undefined) return [goal, "not measured", ""];
  const value = ours / theirs;
  return [goal, ratio(value), verdict(higher ? value >= wanted : value <= wanted)];
}

/** The issue's targets at N = 5000, each with what this run measured. */
function targetsTable(run: Run, n: number): string {
  const rows: string[][] = [];
  const check = (goal: string, ours: number | undefined, theirs: number | undefined, wanted: number, higher = true) =>
    rows.push(ratioRow(goal, ours, theirs, wanted, higher));
  const eps = (stack: string, runtime: string) => find(run, stack, runtime, n)?.burstEventsPerSecond;
  const edge = (runtime: string) => eps(EDGE_SSE, runtime);
  check(`Node: ≥ 1.2× ${PEERS.betterSseNode}`, edge("node"), eps(PEERS.betterSseNode, "node"), 1.2);
  check(`Node: ≥ 1.0× ${PEERS.nodeHttpFloor}`, edge("node"), eps(PEERS.nodeHttpFloor, "node"), 1);
  // nchan is C inside nginx: the in-memory hub's CPU per delivered event is held against it.
  const nchanCpu = find(run, PEERS.nchan, "nginx", n)?.burstCpuMicrosPerEvent;
  for (const runtime of ["node", "deno", "bun"]) {
    const ours = find(run, EDGE_SSE, runtime, n)?.burstCpuMicrosPerEvent;
    check(`${RUNTIME_NAMES[runtime]}: CPU per delivered event below ${PEERS.nchan}'s`, ours, nchanCpu, 1, false);
  }
  for (const runtime of ["bun", "deno"]) {
    const name = RUNTIME_NAMES[runtime];
    check(`${name}: ≥ 0.85× ${PEERS.webStreamFloor}`, edge(runtime), eps(PEERS.webStreamFloor, runtime), 0.85);
    check(`${name}: ahead of ${PEERS.seedStyle}`, edge(runtime), eps(PEERS.seedStyle, runtime), 1);
  }
  for (const runtime of ["node", "bun", "deno"]) {
    const ours = find(run, EDGE_SSE, runtime, n);
    for (const stack of [PEERS.seedStyle, PEERS.betterSseFetch, PEERS.betterSseNode]) {
      const theirs = find(run, stack, runtime, n);
      if (!theirs) continue;
      check(`${RUNTIME_NAMES[runtime]}: p99 latency below ${stack}`, ours?.steadyP99, theirs.steadyP99, 1, false);
    }
    const floor = runtime === "node" ? PEERS.nodeHttpFloor : PEERS.webStreamFloor;
    const floorBytes = find(run, floor, runtime, n)?.bytesPerConnection;
    check(
      `${RUNTIME_NAMES[runtime]}: bytes per connection ≤ 1.25× ${floor}`,
      ours?.bytesPerConnection,
      floorBytes,
      1.25,
      false,
    );
  }
  return table(["target", "edge-sse ÷ peer", ""], rows);
}

/** The issue's targets for REDIS_URL at N = 5000: one process on Redis against the in-memory hub. */
function redisTargetsTable(run: Run, n: number): string {
  const rows: string[][] = [];
  for (const runtime of ["node", "bun"]) {
    const name = RUNTIME_NAMES[runtime];
    const redis = find(run, EDGE_SSE_REDIS, runtime, n);
    const memory = find(run, EDGE_SSE, runtime, n);
    const check = (goal: string, pick: (m: Measurement) => number, wanted: number, higher: boolean) =>
      rows.push(ratioRow(goal, redis && pick(redis), memory && pick(memory), wanted, higher));
    check(`${name}: delivered events/s ≥ 0.9× in memory`, (m) => m.burstEventsPerSecond, 0.9, true);
    check(`${name}: p99 latency ≤ 1.5× in memory`, (m) => m.steadyP99, 1.5, false);
    check(`${name}: bytes per idle connection ≤ 1.1× in memory`, (m) => m.bytesPerConnection, 1.1, false);
  }
  return table(["target", "on Redis ÷ in memory", ""], rows);
}

/**
 * METRICS=on against metrics off, same runtime and N: the counting on the hot path (an increment per
 * publish and per fan-out, not per subscriber) must cost nothing beyond run-to-run noise. The
 * check allows 5% on throughput and CPU, 20% on p99 (a handful of ms at the steady rate).
 */
function metricsTable(run: Run): string {
  const rows = run.results
    .filter((m) => m.stack === EDGE_SSE_METRICS)
    .map((m) => {
      const off = find(run, EDGE_SSE, m.runtime, m.n);
      if (!off) return [RUNTIME_NAMES[m.runtime] ?? m.runtime, int(m.n), "–", "–", "–", "–", "not measured"];
      const throughput = m.burstEventsPerSecond / off.burstEventsPerSecond;
      const cpu = m.burstCpuMicrosPerEvent / off.burstCpuMicrosPerEvent;
      const p99 = m.steadyP99 / off.steadyP99;
      const met = throughput >= 0.95 && cpu <= 1.05 && p99 <= 1.2;
      return [
        RUNTIME_NAMES[m.runtime] ?? m.runtime,
        int(m.n),
        `${int(m.burstEventsPerSecond)} / ${int(off.burstEventsPerSecond)} (${ratio(throughput)})`,
        `${fixed(m.burstCpuMicrosPerEvent, 2)} / ${fixed(off.burstCpuMicrosPerEvent, 2)} (${ratio(cpu)})`,
        `${fixed(m.steadyP99)} / ${fixed(off.steadyP99)} (${ratio(p99)})`,
        int(m.burstLost + m.steadyLost),
        met ? "within noise" : "**slower**",
      ];
    });
  if (rows.length === 0) return "Not measured in this run.";
  return table(
    ["runtime", "N", "events/s on / off", "CPU µs/event on / off", "steady p99 ms on / off", "lost", ""],
    rows,
  );
}

/** The figures the Workers design was built to reach, from the run before it (wrangler dev, N = 1000). */
const WORKERD_BEFORE = { eventsPerSecond: 1_100, cpuMicrosPerEvent: 504.33 };

/** The Workers issue's targets under wrangler dev at N = 1000: 5× the events/s, a fifth of the CPU, nothing lost. */
function workerdTargetsTable(run: Run): string {
  const m = find(run, EDGE_SSE, "workerd", 1000);
  const goals = [
    {
      goal: `delivered events/s ≥ 5 × ${int(WORKERD_BEFORE.eventsPerSecond)}`,
      value: m ? int(m.burstEventsPerSecond) : "not measured",
      met: m !== undefined && m.burstEventsPerSecond >= 5 * WORKERD_BEFORE.eventsPerSecond,
    },
    {
      goal: `CPU per delivered event ≤ ${fixed(WORKERD_BEFORE.cpuMicrosPerEvent, 2)} µs ÷ 5`,
      value: m ? `${fixed(m.burstCpuMicrosPerEvent, 2)} µs` : "not measured",
      met: m !== undefined && m.burstCpuMicrosPerEvent <= WORKERD_BEFORE.cpuMicrosPerEvent / 5,
    },
    {
      goal: "nothing lost",
      value: m ? int(m.burstLost + m.steadyLost) : "not measured",
      met: m !== undefined && m.burstLost + m.steadyLost === 0,
    },
  ];
  return table(
    ["target (wrangler dev, N = 1,000)", "this run", ""],
    goals.map(({ goal, value, met }) => [goal, value, m === undefined ? "" : verdict(met)]),
  );
}

/**
 * The Workers scale targets at N = 5000 and 10,000: every stream opened in every run, nothing lost,
 * departed subscribers counted gone within two keep-alive periods, and the burst's p99 at N = 5000 on
 * workerd directly under 500 ms. wrangler dev at N = 10,000 gives no measurement on this machine (see
 * WORKERD_SIZES in run.ts).
 */
function workerdScaleTable(run: Run): string {
  const rows: string[][] = [];
  for (const [stack, server] of [
    [EDGE_SSE, "wrangler dev"],
    [EDGE_SSE_WORKERD_DIRECT, "workerd direct"],
  ] as const) {
    for (const n of [5000, 10_000]) {
      const m = find(run, stack, "workerd", n);
      if (m === undefined) continue;
      const runs = m.completedRuns ?? run.runs;
      rows.push([
        `${server}, N = ${int(n)}: every stream opened in every run`,
        `${runs} of ${run.runs}`,
        verdict(runs === run.runs),
      ]);
      const lost = m.burstLost + m.steadyLost;
      rows.push([`${server}, N = ${int(n)}: nothing lost`, int(lost), verdict(lost === 0)]);
      const gone = Number.isFinite(m.cleanupMs) ? `${fixed(m.cleanupMs / 1000)} s` : "> 30 s";
      rows.push([
        `${server}, N = ${int(n)}: counted gone within ${fixed((2 * WORKERD_KEEP_ALIVE_MS) / 1000, 0)} s`,
        gone,
        verdict(m.cleanupMs <= 2 * WORKERD_KEEP_ALIVE_MS),
      ]);
    }
  }
  if (rows.length > 0 && find(run, EDGE_SSE, "workerd", 10_000) === undefined) {
    rows.push([
      "wrangler dev, N = 10,000",
      "no run completed: wrangler dev's proxy holds two descriptors per stream, and this machine allows 20,000 open files",
      "",
    ]);
  }
  const direct = find(run, EDGE_SSE_WORKERD_DIRECT, "workerd", 5000);
  if (direct !== undefined) {
    rows.push([
      "workerd direct, N = 5,000: burst p99 under 500 ms",
      `${fixed(direct.burstP99)} ms`,
      verdict(direct.burstP99 < 500),
    ]);
  }
  if (rows.length === 0) return "Not measured at N = 5,000 or 10,000 in this run.";
  return table(["target (N = 5,000 and 10,000)", "this run", ""], rows);
}

/** Two processes on one Redis, beside one process on Redis and in memory on the same runtime. */
function twoProcessesTable(run: Run): string {
  const rows = run.results
    .filter((m) => m.stack === EDGE_SSE_REDIS_TWO)
    .map((m) => {
      const one = find(run, EDGE_SSE_REDIS, m.runtime, m.n);
      const memory = find(run, EDGE_SSE, m.runtime, m.n);
      const vs = (other: Measurement | undefined) =>
        other ? ratio(m.burstEventsPerSecond / other.burstEventsPerSecond) : "–";
      return [
        `${RUNTIME_NAMES[m.runtime]} + ${RUNTIME_NAMES[m.runtime]}`,
        int(m.n),
        (m.subscribersPerProcess ?? []).map(int).join(" + "),
        int(m.burstEventsPerSecond),
        vs(one),
        vs(memory),
        fixed(m.burstCpuMicrosPerEvent, 2),
        fixed(m.redisCpuMicrosPerEvent ?? Number.NaN, 2),
        `${fixed(m.steadyP50)} / ${fixed(m.steadyP99)}`,
        kib(m.bytesPerConnection),
        int(m.burstLost + m.steadyLost),
      ];
    });
  if (rows.length === 0) return "Not measured in this run.";
  return table(
    [
      "processes",
      "N",
      "subscribers each",
      "events/s",
      "÷ 1 process on Redis",
      "÷ in memory",
      "CPU µs/event (both)",
      "Redis CPU µs/event",
      "steady p50 / p99 (ms)",
      "per connection",
      "lost",
    ],
    rows,
  );
}

/** What redis-server itself spent, beside the app's CPU, for every run on Redis. */
function redisCpuTable(run: Run): string {
  const rows = run.results
    .filter((m) => m.redisCpuMicrosPerEvent !== undefined)
    .map((m) => [
      m.stack,
      RUNTIME_NAMES[m.runtime] ?? m.runtime,
      int(m.n),
      fixed(m.burstCpuMicrosPerEvent, 2),
      fixed(m.redisCpuMicrosPerEvent as number, 2),
    ]);
  return table(["stack", "runtime", "N", "app CPU µs/event", "redis-server CPU µs/event"], rows);
}

export function renderReport(run: Run): string {
  const target = run.results.some((m) => m.n === 5000) ? 5000 : (run.results[0]?.n ?? 0);
  const workerd = run.results.filter((m) => m.runtime === "workerd");
  const lost = run.results.reduce((sum, m) => sum + m.burstLost + m.steadyLost, 0);
  const higher =
    "In brackets: edge-sse's figure divided by that peer's on the same runtime and N (above 1× is edge-sse ahead).";
  const lower =
    "In brackets: edge-sse's figure divided by that peer's on the same runtime and N (below 1× is edge-sse ahead).";

  return `# Benchmarks

edge-sse against the SSE stacks a user would otherwise pick, side by side in one run on one
machine: fan-out throughput, publish-to-receive latency, memory per connection, and how fast
connections open and are cleaned up. Generated by \`npm run bench\` (bench/run.ts, bench/report.ts);
do not edit by hand.

- **Run**: ${run.started}, \`${run.command}\`
- **Machine**: ${run.machine}. The load client and the server share these cores, so a server
  can use at most what the client leaves it: compare stacks with each other, not with other machines.
- **Method**: every figure is the median of ${run.runs} run(s), each on a freshly started server, taken in rounds: every
  server once per round, since this machine's speed drifts over minutes.
  One load client process holds the N subscribers on raw sockets and counts \`data:\` fields with
  \`Buffer.indexOf\`; every 50th subscriber parses its events to time them. Every server is started as
  its runtime binary directly, and its CPU time and RSS are read from /proc. Everything is on 127.0.0.1.
- **Burst**: N subscribers, then ${int(run.burstEvents)} events in all (${int(run.burstEvents)} ÷ N
  messages) published as fast as 8 connections can POST them.
- **Steady**: ${run.steadyMessages} messages at ${int(run.steadyEventsPerSecond)} delivered events/s offered
  (messages per second = ${int(run.steadyEventsPerSecond)} ÷ N), for latency without a queue.
- **Same bytes for everyone**: edge-sse's event data is its message JSON
  (\`{"id","text","author","createdAt"}\`); the peers are given the same JSON to send. See
  [bench/peers/README.md](../bench/peers/README.md) for what each peer is.
- **Redis**: the \`${EDGE_SSE_REDIS}\` rows are edge-sse with \`REDIS_URL\`, one process on a
  redis-server (Debian's, on 127.0.0.1) that the benchmark starts for each measurement with no
  persistence (\`--save "" --appendonly no\`: the benchmark measures the hub, not the disk) and
  stops after. Its CPU is not in the server CPU figures; see [Redis](#redis).
- **Settings**: edge-sse runs with \`KEEP_ALIVE_MS=30000 HISTORY_LIMIT=1000 MAX_STREAMS=0
  MAX_STREAMS_PER_CLIENT=0 PUBLISH_RATE_LIMIT=0\`, in memory and on Redis alike.
- **Lost events** over the whole run: ${int(lost)}.

## Targets at N = ${int(target)}

${targetsTable(run, target)}

With \`REDIS_URL\` (one process on Redis against the in-memory hub, same runtime):

${redisTargetsTable(run, target)}

## Fan-out throughput

Delivered events per second during the burst.

![Delivered events per second against N, one panel per runtime](${CHART_FILE})

${perRuntimeTables(run, int, (m) => m.burstEventsPerSecond, higher)}

## Server CPU time per delivered event

Microseconds of server CPU (user + system, all its processes) per delivered event in the burst. On
a 2-core machine shared with the client this is the steadier figure.

${perRuntimeTables(
  run,
  (v) => fixed(v, 2),
  (m) => m.burstCpuMicrosPerEvent,
  lower,
)}

## Latency

Publish-to-receive, from the publisher's clock before the POST to the subscriber's after the read.
At the steady rate, in ms. p99:

${perRuntimeTables(
  run,
  (v) => fixed(v),
  (m) => m.steadyP99,
  lower,
)}

p50:

${perRuntimeTables(
  run,
  (v) => fixed(v),
  (m) => m.steadyP50,
  lower,
)}

During the burst everything queues, so burst latency mostly says how long the burst took; p99:

${perRuntimeTables(
  run,
  (v) => fixed(v),
  (m) => m.burstP99,
  lower,
)}

## Memory

Server RSS with N idle subscribers, minus its RSS before they connected, divided by N. RSS includes
garbage not yet collected, so treat differences under 20% as noise.

${perRuntimeTables(run, kib, (m) => m.bytesPerConnection, lower)}

RSS with N subscribers (idle RSS before them in brackets):

${table(
  ["stack", "runtime", "N", "RSS", "before"],
  run.results.map((m) => [
    m.stack,
    RUNTIME_NAMES[m.runtime] ?? m.runtime,
    int(m.n),
    mib(m.rssWithSubscribers),
    mib(m.rssIdleBase),
  ]),
)}

## Connection ramp and cleanup

Time to open N streams (256 connecting at a time, until each has its response headers), and after
all N disconnect at once, time until the server's own count of streams is 0.

${table(
  ["stack", "runtime", "N", "open N (ms)", "cleanup (ms)"],
  run.results.map((m) => [m.stack, RUNTIME_NAMES[m.runtime] ?? m.runtime, int(m.n), int(m.rampMs), int(m.cleanupMs)]),
)}

## Redis

Every publish on Redis is one script (next id, append to the stream, publish) and one pub/sub
message to each process with subscribers on the channel, not one per subscriber: each process
encodes the event once and writes the same bytes to its subscribers, as the in-memory hub does.
CPU per delivered event, the app's (all its processes) and redis-server's (/proc counts CPU in
10 ms ticks: redis-server's figure is a handful of ticks per burst, so read it as an order of
magnitude):

${redisCpuTable(run)}

Why a burst on Redis can go faster than in memory: in memory, each POST fans its message out in
its own callback, so each subscriber gets one socket write per message. On Redis, the messages of a
burst come back over the pub/sub connection several to a read, and are handed out in one callback;
node:http corks a response's writes until the next tick, so a subscriber gets the run of messages in
one write. Measured with one subscriber and 400 messages posted by 8 connections on Node: 154 TCP
reads in memory, 78 on Redis. Bun shows the same difference; its cause there was not measured. The in-memory hub could batch
the same way (fan out once per turn of the event loop, as the Workers channel object does); it does
not yet. The bytes per idle connection on Redis are read from RSS, which grows in steps: a process
that loaded node-redis and connected starts with more of its heap resident, so the streams' first
few MiB can land in pages it already has. Compare that column with care.

### Two processes on one Redis

Two Node processes on one Redis, the N subscribers split evenly over them and the publisher posting
to each in turn; CPU and RSS are summed over both processes (and their children). **This machine
has 2 cores, shared by the load client, both server processes and redis-server**: a second process
cannot add a core here, so these figures show what splitting costs (each publish reaches both
processes through Redis), not how far more machines would scale.

${twoProcessesTable(run)}

## METRICS=on

The same in-memory server with \`METRICS=on\` (prom-client counting every stream, publish and
delivery) beside the run with metrics off, same runtime and N. "Within noise": at most 5% fewer
events/s or more CPU per event, p99 at most 1.2× (figures of a few ms at the steady rate); each
is the median of the run's repeats, and the spread between repeats of one server is of that order.

${metricsTable(run)}

## workerd under wrangler dev

${
  workerd.length === 0
    ? "Not measured in this run."
    : `edge-sse alone, as a figure of its own: wrangler dev runs workerd locally through wrangler's proxy, with the
Durable Object in the same process, so this says nothing about production Workers and is not comparable
with the other runtimes. It gets a tenth of the burst and of the steady rate; its CPU and memory are
those of wrangler, its proxy and workerd together. "workerd direct" is the same bundle served by Miniflare in
one workerd process, without wrangler dev's proxy (bench/workerd-direct.ts): closer to production.
A run fails when the ramp does not open every stream within 120 s; "runs" says how many completed,
and the figures are their median. Both keep the Workers default keep-alive of 5 s (the others 30 s):
workerd notices a client that left only when its stream writes, so "gone" (from the load client
closing every connection to the channel's count reaching 0) is bounded by it; the promise is within
two keep-alive periods.

The Workers design's targets (before: ${int(WORKERD_BEFORE.eventsPerSecond)} events/s as measured when
it was planned, and ${fixed(WORKERD_BEFORE.cpuMicrosPerEvent, 2)} µs of CPU per event in the full run
before it, both under wrangler dev at N = 1,000, with a Durable Object holding every HTTP stream):

${workerdTargetsTable(run)}

At 5,000 and 10,000 subscribers:

${workerdScaleTable(run)}

${table(
  [
    "server",
    "N",
    "events/s",
    "CPU µs/event",
    "burst p99 (ms)",
    "steady p50 / p99 (ms)",
    "per connection",
    "open N (s)",
    "gone (s)",
    "lost",
    "runs",
  ],
  workerd.map((m) => [
    m.stack === EDGE_SSE ? "wrangler dev" : "workerd direct (Miniflare, no proxy)",
    int(m.n),
    int(m.burstEventsPerSecond),
    fixed(m.burstCpuMicrosPerEvent, 2),
    fixed(m.burstP99),
    `${fixed(m.steadyP50)} / ${fixed(m.steadyP99)}`,
    kib(m.bytesPerConnection),
    fixed(m.rampMs / 1000),
    Number.isFinite(m.cleanupMs) ? fixed(m.cleanupMs / 1000) : "> 30",
    int(m.burstLost + m.steadyLost),
    `${m.completedRuns ?? run.runs} of ${run.runs}`,
  ]),
)}`
}
`;
}

export function writeReport(run: Run): void {
  const docs = join(import.meta.dirname, "..", "docs");
  writeFileSync(join(docs, "benchmarks.md"), renderReport(run));
  writeFileSync(join(docs, CHART_FILE), throughputChart(run.results));
}

if (import.meta.filename === process.argv[1]) {
  const file = process.argv[2] ?? join(import.meta.dirname, "results", "latest.json");
  writeReport(JSON.parse(readFileSync(file, "utf8")) as Run);
}
