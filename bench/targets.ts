/**
 * What the benchmark runs: edge-sse on each runtime (in memory, and on Redis with one and with two
 * processes; with METRICS=on beside it on Node and Bun), and the peers of bench/peers/ (see its
 * README). Every server is started as its runtime binary directly (not through npm), so its CPU and
 * memory are the process's own.
 */
import { join } from "node:path";
import { nchanCommand } from "./peers/nchan.ts";

/** Where a target runs: a JavaScript runtime, or nginx for nchan (C). */
export type Runtime = "node" | "bun" | "deno" | "workerd" | "nginx";
/** The runtimes a JavaScript server file is run on directly. */
export type JsRuntime = "node" | "bun" | "deno";

/** Where one of a target's server processes runs. */
export interface ServerContext {
  /** Which of the target's `servers` processes this is, from 0. */
  server: number;
  /** The redis-server started for the measurement, for a target with `redis`. */
  redisUrl?: string;
}

export interface Target {
  /** The stack, as the tables name it. */
  stack: string;
  runtime: Runtime;
  /** Command line that serves on `port` (127.0.0.1). */
  command(port: number, context?: ServerContext): { cmd: string; args: string[]; env?: Record<string, string> };
  /**
   * Server processes, each on a port of its own (default 1): subscribers are split over them and
   * the publisher posts to each in turn; CPU and RSS are summed over all of them.
   */
  servers?: number;
  /** Served from a redis-server the benchmark starts for each measurement (and stops after). */
  redis?: boolean;
  /**
   * That redis-server fsyncs every write before it answers (`--appendonly yes --appendfsync always`),
   * so every append answered 2xx is on disk; else it keeps nothing on disk.
   */
  redisDurable?: boolean;
  streamPath: string;
  publishPath: string;
  publishBody(payload: string): { type: string; body: string };
  statsPath: string;
  /** The current subscribers, from the body of `statsPath`. */
  activeStreams(stats: string): number;
  /** Comparable with the other runtimes' figures (workerd under wrangler dev is not). */
  comparable: boolean;
}

const root = join(import.meta.dirname, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const NODE = process.execPath;

export const EDGE_SSE = "edge-sse";
/** edge-sse with REDIS_URL: one process, then two on the same Redis. */
export const EDGE_SSE_REDIS = "edge-sse on Redis";
export const EDGE_SSE_REDIS_TWO = "edge-sse on Redis, 2 processes";
/** edge-sse's Worker served by workerd directly, without wrangler dev (bench/workerd-direct.ts). */
export const EDGE_SSE_WORKERD_DIRECT = `${EDGE_SSE} (workerd direct)`;
/** edge-sse in memory with the Prometheus metrics on: what counting costs on the hot path. */
export const EDGE_SSE_METRICS = "edge-sse, METRICS=on";

const nodeFlags = () => process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];

/** The command line that runs a server file on a runtime, by its binary (not through npm). */
export const onRuntime = (runtime: JsRuntime, file: string) => {
  switch (runtime) {
    case "node":
      // BENCH_NODE_FLAGS: flags for the servers' node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
      return { cmd: NODE, args: [...nodeFlags(), "--import", "tsx", file] };
    case "bun":
      return { cmd: bin("bun"), args: [file] };
    case "deno":
      return { cmd: bin("deno"), args: ["run", "-A", "--unstable-no-legacy-abort", file] };
  }
};

// Long keep-alive and generous buffers: the benchmark measures delivery, not the safety nets.
const EDGE_SSE_SETTINGS = {
  KEEP_ALIVE_MS: "30000",
  HISTORY_LIMIT: "1000",
  // Every subscriber of the load client comes from 127.0.0.1, and N goes up to 10000.
  MAX_STREAMS: "0",
  MAX_STREAMS_PER_CLIENT: "0",
  // One publisher posts every message; with Redis the limit would also cost a round trip per publish.
  PUBLISH_RATE_LIMIT: "0",
};

/**
 * On workerd, the Workers default keep-alive: a client that left is noticed only when its stream
 * next writes (see ../shared/FINDINGS.md), so the keep-alive bounds how long departed subscribers
 * are counted, and the benchmark measures that against its promise.
 */
export const WORKERD_KEEP_ALIVE_MS = 5_000;
const WORKERD_SETTINGS = { KEEP_ALIVE_MS: String(WORKERD_KEEP_ALIVE_MS) };

/** edge-sse's demo server on `runtime`, with `settings` on top of the benchmark's own. */
export function edgeSse(runtime: JsRuntime | "workerd", extraSettings: Record<string, string> = {}): Target {
  const settings = { ...EDGE_SSE_SETTINGS, ...(runtime === "workerd" ? WORKERD_SETTINGS : {}), ...extraSettings };
  return {
    stack: EDGE_SSE,
    runtime,
    comparable: runtime !== "workerd",
    command(port, context) {
      const env: Record<string, string> = { ...settings, PORT: String(port), HOST: "127.0.0.1" };
      if (context?.redisUrl !== undefined) env.REDIS_URL = context.redisUrl;
      if (runtime === "workerd") {
        // wrangler dev reads settings as `--var`, not from the environment.
        const vars = Object.entries(settings).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
        return {
          cmd: bin("wrangler"),
          args: [
            "dev",
            "--port",
            String(port),
            "--ip",
            "127.0.0.1",
            "--inspector-port",
            "0",
            "--log-level",
            "error",
            ...vars,
          ],
          env: { WRANGLER_SEND_METRICS: "false" },
        };
      }
      return { ...onRuntime(runtime, join(root, `src/runtime/${runtime}.ts`)), env };
    },
    streamPath: "/api/channels/bench/messages/stream",
    publishPath: "/api/channels/bench/messages",
    publishBody: (payload) => ({ type: "application/json", body: JSON.stringify({ text: payload }) }),
    statsPath: "/api/channels/bench/messages/stats",
    activeStreams: (stats) => (JSON.parse(stats) as { subscribers: number }).subscribers,
  };
}

/**
 * edge-sse with REDIS_URL: `servers` processes of `runtime` on one redis-server, which the
 * benchmark starts without persistence for each measurement. Two processes are both of one runtime,
 * so their figures compare with one process's.
 */
function edgeSseOnRedis(runtime: JsRuntime, servers: 1 | 2): Target {
  return { ...edgeSse(runtime), stack: servers === 1 ? EDGE_SSE_REDIS : EDGE_SSE_REDIS_TWO, servers, redis: true };
}

/** edge-sse in memory with `METRICS=on`, beside the same server with metrics off. */
function edgeSseWithMetrics(runtime: JsRuntime): Target {
  const plain = edgeSse(runtime);
  return {
    ...plain,
    stack: EDGE_SSE_METRICS,
    command(port, context) {
      const command = plain.command(port, context);
      return { ...command, env: { ...command.env, METRICS: "on" } };
    },
  };
}

/**
 * The same event data edge-sse sends (its message JSON), so every stack moves the same bytes:
 * a peer publishes what it is given as-is.
 */
function asMessageJson(payload: string): string {
  const seq = Number(/seq=(\d+)/.exec(payload)?.[1] ?? 0);
  return JSON.stringify({ id: seq, text: payload, author: null, createdAt: new Date().toISOString() });
}

/**
 * edge-sse's Worker on workerd without wrangler dev's proxy (bench/workerd-direct.ts): the same
 * figures as `edgeSse("workerd")`, from one workerd process instead of three processes.
 */
function edgeSseWorkerdDirect(): Target {
  return {
    ...edgeSse("workerd"),
    stack: EDGE_SSE_WORKERD_DIRECT,
    command(port) {
      return {
        cmd: NODE,
        args: ["--import", "tsx", join(root, "bench/workerd-direct.ts")],
        env: { ...EDGE_SSE_SETTINGS, ...WORKERD_SETTINGS, PORT: String(port), HOST: "127.0.0.1" },
      };
    },
  };
}

/** A peer following bench/peers/README.md's contract. */
function peer(stack: string, runtime: JsRuntime, file: string): Target {
  return {
    stack,
    runtime,
    comparable: true,
    command(port) {
      return { ...onRuntime(runtime, join(root, "bench/peers", file)), env: { PORT: String(port), HOST: "127.0.0.1" } };
    },
    streamPath: "/stream",
    publishPath: "/publish",
    publishBody: (payload) => ({ type: "text/plain", body: asMessageJson(payload) }),
    statsPath: "/stats",
    activeStreams: (stats) => (JSON.parse(stats) as { activeStreams: number }).activeStreams,
  };
}

export const PEERS = {
  seedStyle: "seed style (Hono streamSSE)",
  betterSseFetch: "better-sse (Fetch)",
  betterSseNode: "better-sse (node:http)",
  webStreamFloor: "web-stream floor",
  nodeHttpFloor: "node:http floor",
  nchan: "nchan",
} as const;

/** nchan inside nginx (bench/peers/nchan.ts): the same contract, served by C. */
function nchan(): Target {
  return {
    stack: PEERS.nchan,
    runtime: "nginx",
    comparable: true,
    command: nchanCommand,
    streamPath: "/stream",
    publishPath: "/publish",
    publishBody: (payload) => ({ type: "text/plain", body: asMessageJson(payload) }),
    statsPath: "/stats",
    // nchan_stub_status: plain text, one `name: value` per line, "subscribers: N" among them.
    activeStreams: (stats) => Number(/^subscribers: (\d+)$/m.exec(stats)?.[1] ?? Number.NaN),
  };
}

/** Grouped by runtime, edge-sse first: the order of the report's tables. */
export const TARGETS: Target[] = [
  edgeSse("node"),
  edgeSseOnRedis("node", 1),
  edgeSseOnRedis("node", 2),
  edgeSseWithMetrics("node"),
  peer(PEERS.seedStyle, "node", "seed-style.ts"),
  peer(PEERS.betterSseFetch, "node", "better-sse-fetch.ts"),
  peer(PEERS.betterSseNode, "node", "better-sse-node.ts"),
  peer(PEERS.webStreamFloor, "node", "floor-web-stream.ts"),
  peer(PEERS.nodeHttpFloor, "node", "floor-node-http.ts"),
  edgeSse("bun"),
  edgeSseOnRedis("bun", 1),
  edgeSseWithMetrics("bun"),
  peer(PEERS.seedStyle, "bun", "seed-style.ts"),
  peer(PEERS.betterSseFetch, "bun", "better-sse-fetch.ts"),
  peer(PEERS.webStreamFloor, "bun", "floor-web-stream.ts"),
  edgeSse("deno"),
  peer(PEERS.seedStyle, "deno", "seed-style.ts"),
  peer(PEERS.betterSseFetch, "deno", "better-sse-fetch.ts"),
  peer(PEERS.webStreamFloor, "deno", "floor-web-stream.ts"),
  edgeSse("workerd"),
  edgeSseWorkerdDirect(),
  nchan(),
];
