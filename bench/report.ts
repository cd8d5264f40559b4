/**
 * Turns a benchmark run (bench/results/latest.json) into docs/benchmarks.md and
 * docs/benchmarks-throughput.svg. `npx tsx bench/report.ts [results.json]` rewrites them from a
 * saved run without measuring again.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { throughputChart } from "./chart.ts";
import type { Measurement } from "./run.ts";
import { EDGE_SSE, PEERS } from "./targets.ts";

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

const RUNTIMES = ["node", "bun", "deno"] as const;
const RUNTIME_NAMES: Record<string, string> = { node: "Node", bun: "Bun", deno: "Deno", workerd: "workerd" };
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
      stack === EDGE_SSE ? `**${stack}**` : stack,
      ...sizes.map((n) => {
        const measured = rows.find((m) => m.stack === stack && m.n === n);
        const ours = rows.find((m) => m.stack === EDGE_SSE && m.n === n);
        if (!measured) return "–";
        const value = format(pick(measured));
        if (!ours || stack === EDGE_SSE) return value;
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

/** The issue's targets at N = 5000, each with what this run measured. */
function targetsTable(run: Run, n: number): string {
  const rows: string[][] = [];
  const check = (goal: string, ours: number | undefined, theirs: number | undefined, wanted: number, higher = true) => {
    if (ours === undefined || theirs === undefined) {
      rows.push([goal, "not measured", ""]);
      return;
    }
    const value = ours / theirs;
    const met = higher ? value >= wanted : value <= wanted;
    rows.push([goal, ratio(value), met ? "met" : "**missed**"]);
  };
  const eps = (stack: string, runtime: string) => find(run, stack, runtime, n)?.burstEventsPerSecond;
  const edge = (runtime: string) => eps(EDGE_SSE, runtime);
  check(`Node: ≥ 1.2× ${PEERS.betterSseNode}`, edge("node"), eps(PEERS.betterSseNode, "node"), 1.2);
  check(`Node: ≥ 0.8× ${PEERS.nodeHttpFloor}`, edge("node"), eps(PEERS.nodeHttpFloor, "node"), 0.8);
  for (const runtime of ["bun", "deno"]) {
    const name = RUNTIME_NAMES[runtime];
    check(`${name}: ≥ 0.85× ${PEERS.webStreamFloor}`, edge(runtime), eps(PEERS.webStreamFloor, runtime), 0.85);
    check(`${name}: ahead of ${PEERS.seedStyle}`, edge(runtime), eps(PEERS.seedStyle, runtime), 1);
  }
  for (const runtime of RUNTIMES) {
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
- **Method**: every figure is the median of ${run.runs} run(s), each on a freshly started server.
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
- **Lost events** over the whole run: ${int(lost)}.

## Targets at N = ${int(target)}

${targetsTable(run, target)}

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

## workerd under wrangler dev

${
  workerd.length === 0
    ? "Not measured in this run."
    : `edge-sse alone, as a figure of its own: wrangler dev runs workerd locally through wrangler's proxy, with the
Durable Object in the same process, so this says nothing about production Workers and is not comparable
with the other runtimes. It gets a tenth of the burst and of the steady rate; its CPU and memory are
those of wrangler, its proxy and workerd together. "workerd direct" is the same bundle served by Miniflare in
one workerd process, without wrangler dev's proxy (bench/workerd-direct.ts): closer to production.

${table(
  ["server", "N", "events/s", "CPU µs/event", "burst p99 (ms)", "steady p50 / p99 (ms)", "per connection", "lost"],
  workerd.map((m) => [
    m.stack === EDGE_SSE ? "wrangler dev" : "workerd direct (Miniflare, no proxy)",
    int(m.n),
    int(m.burstEventsPerSecond),
    fixed(m.burstCpuMicrosPerEvent, 2),
    fixed(m.burstP99),
    `${fixed(m.steadyP50)} / ${fixed(m.steadyP99)}`,
    kib(m.bytesPerConnection),
    int(m.burstLost + m.steadyLost),
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
