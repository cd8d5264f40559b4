/**
 * Turns a run of `npm run bench:streams` (bench/results/streams.json) into docs/benchmarks-streams.md.
 * `npx tsx bench/streams-report.ts [results.json]` rewrites it from a saved run without measuring again.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AppendsMeasurement, FanoutMeasurement, StreamsRun } from "./streams.ts";

/** The reference server's stack name in the results. */
export const REFERENCE = "@durable-streams/server";
/** bench/peers/floor-stream-appends.ts: appends kept and answered at once, nothing else. */
export const APPENDS_FLOOR = "node:http floor";
/** edge-sse's rows. */
export const EDGE_SSE_STREAMS = "edge-sse";

const int = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString("en") : "–");
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");
const RUNTIME_NAMES: Record<string, string> = { node: "Node", bun: "Bun", deno: "Deno", workerd: "workerd" };

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

type Row = { stack: string; runtime: string; backend: string; durable?: boolean | undefined };

function where(m: Row): string {
  if (m.stack === REFERENCE) return m.durable ? `${REFERENCE} (reference), on disk` : `${REFERENCE} (reference)`;
  if (m.stack === APPENDS_FLOOR) return `${APPENDS_FLOOR} (keeps each body, answers at once: calibration)`;
  const runtime = RUNTIME_NAMES[m.runtime] ?? m.runtime;
  if (m.runtime === "workerd") return `**edge-sse** ${runtime} (wrangler dev, Durable Objects)`;
  if (m.backend !== "redis") return `**edge-sse** ${runtime}, memory`;
  return `**edge-sse** ${runtime}, Redis${m.durable ? " (appendfsync always)" : ""}`;
}

/** The reference's row that keeps its streams as a row with `durable` does: in memory, or on disk. */
function referenceFor<M extends Row>(
  durable: boolean | undefined,
  rows: readonly M[],
  same: (r: M) => boolean = () => true,
): M | undefined {
  return rows.find((r) => r.stack === REFERENCE && (r.durable === true) === (durable === true) && same(r));
}

/** A figure, with ours ÷ the reference's after it on edge-sse's rows. */
function versus(value: number, theirs: number | undefined, format: (v: number) => string, isOurs: boolean): string {
  if (!isOurs || theirs === undefined) return format(value);
  return `${format(value)} (${ratio(value / theirs)})`;
}

function appendsTable(run: StreamsRun): string {
  const rows = run.appends.map((m) => {
    const ours = m.stack === EDGE_SSE_STREAMS;
    const ref = referenceFor(m.durable, run.appends);
    return [
      where(m),
      versus(m.oneWriter, ref?.oneWriter, int, ours),
      versus(m.eightWritersOneStream, ref?.eightWritersOneStream, int, ours),
      versus(m.eightWritersEightStreams, ref?.eightWritersEightStreams, int, ours),
      versus(m.cpuMicrosPerAppend, ref?.cpuMicrosPerAppend, (v) => fixed(v, 0), ours),
      int(m.appends),
      int(m.failures),
    ];
  });
  return table(
    [
      "server",
      "1 writer, 1 stream",
      "8 writers, 1 stream",
      "8 writers, 8 streams",
      "CPU µs per append (8 streams)",
      "appends per phase",
      "failed",
    ],
    rows,
  );
}

/** edge-sse's row on Node in memory: the one the targets compare with the reference in memory. */
const oursOnNodeInMemory = (m: Row) => m.stack === EDGE_SSE_STREAMS && m.runtime === "node" && m.backend === "memory";

/** edge-sse's row on Node on a Redis that fsyncs every write: compared with the reference on disk. */
const oursOnNodeDurable = (m: Row) => m.stack === EDGE_SSE_STREAMS && m.runtime === "node" && m.durable === true;

/** How near the Node servers in memory come to the node:http floor: the most this load client gets from Node. */
function floorNote(run: StreamsRun): string {
  const floor = run.appends.find((m) => m.stack === APPENDS_FLOOR);
  const ours = run.appends.find(oursOnNodeInMemory);
  const ref = referenceFor(false, run.appends);
  if (floor === undefined || ref === undefined || ours === undefined) return "";
  const share = (m: AppendsMeasurement) =>
    [
      m.oneWriter / floor.oneWriter,
      m.eightWritersOneStream / floor.eightWritersOneStream,
      m.eightWritersEightStreams / floor.eightWritersEightStreams,
    ]
      .map((value) => `${Math.round(value * 100)}%`)
      .join(", ");
  return `
The node:http floor is what this load client gets from a Node server that does nothing but keep each
body and answer: the most any Node server can show here. Of its rate (1 writer, 8 writers on 1 stream,
8 on 8), edge-sse on Node in memory reached ${share(ours)}, the reference ${share(ref)}. One writer waits
for each answer before the next append, so its rate is the round trip (client, kernel and server in
turn), where a server's lower CPU per append counts least and the machine's drift from one round to the
next most. The CPU per append is the server's own.
`;
}

function fanoutTable(run: StreamsRun): string {
  const rows = run.fanout.map((m) => {
    const ours = m.stack !== REFERENCE;
    const ref = referenceFor(m.durable, run.fanout, (r) => r.n === m.n);
    return [
      where(m),
      int(m.n),
      versus(m.eventsPerSecond, ref?.eventsPerSecond, int, ours),
      versus(m.cpuMicrosPerEvent, ref?.cpuMicrosPerEvent, (v) => fixed(v, 2), ours),
      m.redisCpuMicrosPerEvent === undefined ? "" : fixed(m.redisCpuMicrosPerEvent, 2),
      fixed(m.steadyP50),
      versus(m.steadyP99, ref?.steadyP99, (v) => fixed(v), ours),
      int(m.bytesPerReader),
      int(m.burstLost + m.steadyLost),
    ];
  });
  return table(
    [
      "server",
      "N readers",
      "delivered events/s",
      "server CPU µs per event",
      "redis-server CPU µs per event",
      "p50 ms",
      "p99 ms",
      "RSS bytes per reader",
      "lost",
    ],
    rows,
  );
}

/**
 * The issue's target: ahead of the reference on every figure on the same runtime (Node). Twice: in
 * memory, and on disk (edge-sse on a Redis that fsyncs every write, the reference with its `dataDir`).
 */
function targetsTable(run: StreamsRun): string {
  const rows: string[][] = [];
  const check = (kept: string, goal: string, ours: number | undefined, theirs: number | undefined, higher: boolean) => {
    if (ours === undefined || theirs === undefined) return rows.push([kept, goal, "not measured", ""]);
    const value = ours / theirs;
    return rows.push([kept, goal, ratio(value), (higher ? value >= 1 : value <= 1) ? "met" : "**missed**"]);
  };
  const appendFigures: [string, (m: AppendsMeasurement) => number][] = [
    ["appends/s, 1 writer", (m) => m.oneWriter],
    ["appends/s, 8 writers on 1 stream", (m) => m.eightWritersOneStream],
    ["appends/s, 8 writers on 8 streams", (m) => m.eightWritersEightStreams],
  ];
  const fanoutFigures: [string, (m: FanoutMeasurement) => number, boolean][] = [
    ["delivered events/s", (m) => m.eventsPerSecond, true],
    ["p99 append to receive", (m) => m.steadyP99, false],
    ["server CPU per delivered event", (m) => m.cpuMicrosPerEvent, false],
  ];
  const pairs: [string, (m: Row) => boolean, boolean][] = [
    ["in memory", oursOnNodeInMemory, false],
    ["on disk, every 2xx fsynced", oursOnNodeDurable, true],
  ];
  for (const [kept, isOurs, durable] of pairs) {
    const appendsOurs = run.appends.find(isOurs);
    const appendsRef = referenceFor(durable, run.appends);
    // A pair this run did not measure (an --only run) is left out, not listed as missing.
    if (appendsOurs === undefined && appendsRef === undefined && !run.fanout.some(isOurs)) continue;
    for (const [goal, pick] of appendFigures) {
      check(kept, goal, appendsOurs && pick(appendsOurs), appendsRef && pick(appendsRef), true);
    }
    const sizes = [...new Set(run.fanout.filter((m) => m.stack === REFERENCE).map((m) => m.n))];
    for (const n of sizes) {
      const mine = run.fanout.find((m) => isOurs(m) && m.n === n);
      const ref = referenceFor(durable, run.fanout, (r) => r.n === n);
      for (const [goal, pick, higher] of fanoutFigures) {
        check(kept, `N = ${int(n)}: ${goal}`, mine && pick(mine), ref && pick(ref), higher);
      }
    }
  }
  return table(["streams kept", "target (edge-sse on Node ÷ the reference on Node)", "ratio", ""], rows);
}

const appendRoundsText = (rounds: number) =>
  rounds === 1
    ? "one round"
    : `median of ${rounds} rounds, each taking every server in turn (this machine's speed drifts over minutes: in turn, the servers of a round meet the same moment)`;

export function renderStreamsReport(run: StreamsRun): string {
  const { plan } = run;
  return `# Benchmarks: durable streams

<!-- Written by \`npm run bench:streams\` (bench/streams.ts); \`npx tsx bench/streams-report.ts\` rewrites it from bench/results/streams.json. -->

edge-sse's \`/v1/stream/*\` (the Durable Streams protocol) on its demo server, against Electric's reference
server, [\`@durable-streams/server\`](../bench/peers/README.md#durable-streams-reference) 0.3.7 (Node, streams
in memory), in one run on one machine. Each figure comes from a fresh server process of its own (its CPU and
RSS read from /proc), and on Redis from a redis-server of its own without persistence. Compare figures
within a run, not across runs: other work on the machine moves them.

Durable, on Node, as a pair of its own: the reference with its streams on disk (its \`dataDir\`: LMDB for
the metadata and a segment file per stream, each append fdatasync'ed before it is answered) against
edge-sse on a redis-server that fsyncs every write before it answers (\`--appendonly yes --appendfsync
always\`), both on this machine's disk: every append answered 2xx is on disk, on both sides. The other
Redis rows keep nothing on disk, and their ratios are to the reference in memory.

- Run: ${run.started}, \`${run.command}\`, ${run.runs === 1 ? "one run per fan-out figure" : `fan-out: median of ${run.runs} runs`}; appends: ${appendRoundsText(run.plan.appendRounds ?? 1)}.
- Machine: ${run.machine}.${run.note === undefined ? "" : ` ${run.note}.`}
- Appends: ${int(plan.appends)} JSON appends per phase (a small message each), POSTed one at a time per
  writer on a keep-alive connection of its own (undici, in the benchmark's process), after ${int(plan.appends / 2)} unmeasured appends that warm the
  server up (on a fresh process the first ones run before the JIT compiled the path); appends/s counts
  those answered 2xx.
- Fan-out: N readers \`?offset=now&live=sse\` of one JSON stream on raw sockets in one load process; a
  burst of ${int(plan.burstEvents)} delivered events (N × M appends from 8 connections) for events/s and
  CPU, then ${int(plan.steadyEventsPerSecond)} delivered events/s for ${plan.steadyMessages} appends for the latency, from
  the append's send to its receipt. A message is counted once whether the server sends it in an event of
  its own or batched with others.
- workerd: \`wrangler dev\` (three processes: wrangler, its proxy workerd and the Worker's, all counted) is
  far slower than Workers in production: a fifth of N and a tenth of the load, a figure of its own.

## The target

Ahead of the reference on every figure on the same runtime (the reference runs on Node only), with the
streams in memory on both sides, and on disk on both sides:

${targetsTable(run)}

## Appends per second

Each phase on a stream of its own, one after the other on one server; ours ÷ the reference's in brackets.

${appendsTable(run)}
${floorNote(run)}

## Live-tail fan-out

${fanoutTable(run)}

"Lost" counts the events that had not arrived when no reader had received anything for 5 s: a server
that stalls that long loses its figure here even if the events come later.
`;
}

if (import.meta.filename === process.argv[1]) {
  const file = process.argv[2] ?? join(import.meta.dirname, "results/streams.json");
  const run = JSON.parse(readFileSync(file, "utf8")) as StreamsRun;
  writeFileSync(join(import.meta.dirname, "../docs/benchmarks-streams.md"), renderStreamsReport(run));
}
