/**
 * `GET /metrics`: the Prometheus text exposition format, made by prom-client (15.1.3; measured to
 * work unchanged on Node 20, Bun 1.4 and Deno 2.9). Loaded only when `METRICS=on`, by the Node,
 * Bun and Deno entries (a dynamic import): with metrics off, or on Workers, it costs nothing, and
 * the Workers bundle never holds it. Every metric is described in docs/operations.md.
 *
 * Counting stays off the hot path: the hub counts once per publish (not per subscriber), and the
 * stream figures are read from OpenStreams when Prometheus scrapes, so opening and closing a
 * stream costs nothing more with metrics on.
 */
import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { HubMetrics } from "../hub/hub-metrics.ts";
import type { CloseReason, OpenStreams } from "../sse/index.ts";
import { errorResponse } from "./errors.ts";

/** What the app gets from the metrics module (app.ts imports only this type). */
export interface AppMetrics {
  /** What hubs report (see src/hub/hub-metrics.ts). */
  readonly hub: HubMetrics;
  /** A publish took this long, from its request to every local subscriber written. */
  publishTook(seconds: number): void;
  /** Exposes the open and closed streams that `openStreams` counts, read at each scrape. */
  watch(openStreams: OpenStreams): void;
  /** `GET /metrics`, behind the bearer token if one is set. */
  handler(token: string): MiddlewareHandler;
}

const PREFIX = "edge_sse_";

// Every close reason, so each series exists from the start (a rate over a series that appears
// late misses its first increase).
const CLOSE_REASONS: readonly CloseReason[] = [
  "client-cancel",
  "request-abort",
  "write-failed",
  "overflow",
  "stalled",
  "source-ended",
  "source-error",
  "shutdown",
  "deadline",
];
const STREAM_KINDS = ["ticker", "feed", "durable-stream", "answer"] as const;

/**
 * prom-client's default process and runtime metrics, less the three gauges named `*_total`:
 * promtool's lint rejects a gauge with a counter's suffix, and each is also exported under its
 * name without it (`nodejs_active_handles` and so on), so nothing is lost.
 */
const LINT_FAILING_DEFAULTS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

export function createMetrics(): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);

  const watched: OpenStreams[] = [];
  new Gauge({
    name: `${PREFIX}streams_open`,
    help: "Event streams open now, by kind (ticker, feed).",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const kind of STREAM_KINDS) this.set({ kind }, 0);
      for (const openStreams of watched) {
        for (const [kind, open] of Object.entries(openStreams.openByKind)) this.inc({ kind }, open);
      }
    },
  });
  new Counter({
    name: `${PREFIX}streams_closed_total`,
    help: "Event streams that ended, by reason (client-cancel, overflow, stalled, shutdown, ...).",
    labelNames: ["reason"],
    registers: [registry],
    // OpenStreams already counts closes: read its totals instead of counting each close twice.
    collect() {
      this.reset();
      for (const reason of CLOSE_REASONS) this.inc({ reason }, 0);
      for (const openStreams of watched) {
        for (const [reason, closed] of Object.entries(openStreams.closedBy)) this.inc({ reason }, closed);
      }
    },
  });
  const published = new Counter({
    name: `${PREFIX}messages_published_total`,
    help: "Messages accepted for publishing by this process.",
    registers: [registry],
  });
  const delivered = new Counter({
    name: `${PREFIX}events_delivered_total`,
    help: "Message events written to subscribers' streams by this process: live fan-out and replay.",
    registers: [registry],
  });
  const publishDuration = new Histogram({
    name: `${PREFIX}publish_duration_seconds`,
    help: "Time from a publish request's arrival to every local subscriber written.",
    // From 0.1 ms: an in-memory publish to a few subscribers takes well under a millisecond.
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Registered on the first report from a Redis hub: a process without Redis shows none of these.
  let redis: { connected: Gauge; gapFills: Counter; gapFilled: Counter; recoveries: Counter } | undefined;
  const redisMetrics = () => {
    redis ??= {
      connected: new Gauge({
        name: `${PREFIX}redis_connected`,
        help: "1 while the hub's connection to Redis is up, 0 while it is down.",
        registers: [registry],
      }),
      gapFills: new Counter({
        name: `${PREFIX}redis_gap_fills_total`,
        help: "Gaps in the messages received from Redis that were filled by reading them back.",
        registers: [registry],
      }),
      gapFilled: new Counter({
        name: `${PREFIX}redis_gap_filled_messages_total`,
        help: "Messages read back from Redis to fill gaps.",
        registers: [registry],
      }),
      recoveries: new Counter({
        name: `${PREFIX}redis_recoveries_total`,
        help: "Times the hub came back after losing Redis and caught its subscribers up.",
        registers: [registry],
      }),
    };
    return redis;
  };

  const hub: HubMetrics = {
    // No channel label: channel names come from clients, and a label per name would let a flood
    // of made-up names grow the metrics without bound. Per-channel figures are in /api/stats.
    published: () => published.inc(),
    delivered: (count) => delivered.inc(count),
    redisConnected: (connected) => redisMetrics().connected.set(connected ? 1 : 0),
    gapFilled: (count) => {
      const { gapFills, gapFilled } = redisMetrics();
      gapFills.inc();
      gapFilled.inc(count);
    },
    recovered: () => redisMetrics().recoveries.inc(),
  };

  return {
    hub,
    publishTook: (seconds) => publishDuration.observe(seconds),
    watch: (openStreams) => {
      watched.push(openStreams);
    },
    handler: (token) => async (c) => {
      if (token !== "" && !(await bearerMatches(c.req.header("authorization"), token))) {
        return errorResponse(c, 401, "unauthorized", "send the metrics token as Authorization: Bearer <token>", {
          "www-authenticate": 'Bearer realm="metrics"',
        });
      }
      return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
    },
  };
}

async function bearerMatches(header: string | undefined, token: string): Promise<boolean> {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? "");
  // Compared through hashes in constant time: how long a wrong guess took says nothing of the token.
  return match?.[1] !== undefined && (await timingSafeEqual(match[1], token));
}
