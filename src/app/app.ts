/**
 * The edge-sse Hono app, the same on every runtime. Runtime entries (src/runtime/) build the
 * config, choose the hub, add static files where the platform does not serve them, and serve
 * `app.fetch`.
 */
import { type Context, Hono, type MiddlewareHandler, type Next } from "hono";
import { cors } from "hono/cors";
import type { Store } from "hono-rate-limiter";
import { type Config, streamLimits, streamSettings } from "../config.ts";
import { CHANNEL_STREAMS_PREFIX, channelOfStream } from "../hub/channel-stream-name.ts";
import { type Hub, MemoryHub } from "../hub/index.ts";
import type { StreamLog } from "../hub/log.ts";
import { MemoryLog } from "../hub/memory/memory-log.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { logStreamClosed } from "../log/stream-log.ts";
import { OpenStreams } from "../sse/index.ts";
import { durableStreams, forkSourceOf, streamNameOf } from "../streams/app.ts";
import type { RequestBody } from "../streams/body.ts";
import { ANSWER_STREAMS_PREFIX, ANSWER_STREAMS_READ_ONLY } from "./answer-streams.ts";
import { channelAccess } from "./authorization.ts";
import { channelSetRoutes } from "./channel-set-stream.ts";
import type { ChatRoutes } from "./chat.ts";
import { errorResponse, handleError, handleNotFound } from "./errors.ts";
import { healthRoutes, type Readiness } from "./health.ts";
import { DEFAULT_CHANNEL, eventRoutes, messageRoutes, streamResponse } from "./messages.ts";
import type { AppMetrics } from "./metrics.ts";
import { passThrough } from "./pass-through.ts";
import { publishRateLimit } from "./publish-rate-limit.ts";
import { type ReadOnlyPrefix, readOnlyStreams } from "./read-only-streams.ts";
import { tickerResponse } from "./ticker.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The client's IP address where the runtime knows it (see AppOptions.clientAddress). */
    clientAddress: string | undefined;
    /** Whether streams end on the request's abort signal (see AppOptions.useRequestSignal). */
    useRequestSignal: boolean;
    /** The app's logger (AppOptions.logger), for the error handler. */
    logger: Logger;
  }
}

export interface AppOptions {
  /** Serves static/ (the demo page). Workers serve it as assets before the app runs. */
  serveAssets?: MiddlewareHandler;
  /** Where channels live. Default: this process's memory (Node, Bun, Deno). */
  hub?: Hub;
  /**
   * Where durable streams (`/v1/stream/*`) live. Default: this process's memory when the hub is
   * too; with any other hub and no log, the routes are not served.
   */
  log?: StreamLog;
  /** The client's IP address, as this runtime knows it; limits per client are keyed by it. */
  clientAddress?: (c: Context) => string | undefined;
  /** A durable stream write's body as this runtime holds it (DurableStreamsOptions.requestBody). */
  requestBody?: RequestBody;
  /**
   * Where the app counts, caps and keeps its open streams (tickers, and feeds of the in-memory
   * hub), so that the runtime entry can end them all at shutdown with `openStreams.shutdown()`.
   * Default: one made from the config's caps.
   */
  openStreams?: OpenStreams;
  /**
   * Whether a stream also ends when its request's signal aborts. workerd needs it: it never calls
   * a body's cancel when the client leaves (../shared/FINDINGS.md). Node, Bun and Deno do call
   * cancel, and there the signal only costs memory (measured on Bun: about 500 bytes per idle
   * connection), so their entries turn it off. Default: on.
   */
  useRequestSignal?: boolean;
  /** Where the publish rate limit keeps its counts (Redis, when the hub is there). Default: memory. */
  publishRateLimitStore?: Store;
  /** Where the app logs (src/log/logger.ts). Default: JSON lines on stderr at the config's LOG_LEVEL. */
  logger?: Logger;
  /**
   * Serves `GET /metrics` and counts into it (src/app/metrics.ts); the runtime entry loads it when
   * `METRICS` is on. Default: none, and no route.
   */
  metrics?: AppMetrics;
  /** Turned to draining by the shutdown, so that `/readyz` fails before the server stops accepting. */
  readiness?: Readiness;
  /**
   * The demo chat (`chatRoutesWith(settings)` from src/app/chat.ts), served at /api/chat where there is
   * a log; its answers' streams are then read-only at /v1/stream. Given by every runtime entry.
   * Default: none (and no `ai` in a bundle of an app that does not import src/app/chat.ts).
   */
  chat?: ChatRoutes;
}

export function createApp(config: Config, options: AppOptions = {}) {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics;
  const openStreams = options.openStreams ?? new OpenStreams(config, { onClosed: logStreamClosed(logger) });
  // In memory, channels are streams of the same log as /v1/stream's (see channel-log.ts).
  const memoryLog =
    options.hub !== undefined
      ? undefined
      : options.log === undefined
        ? new MemoryLog(streamLimits(config))
        : options.log instanceof MemoryLog
          ? options.log
          : undefined;
  const hub =
    options.hub ??
    new MemoryHub(
      config.historyLimit,
      streamSettings(config),
      openStreams,
      metrics?.hub,
      config.idempotencyKeyTtlSeconds,
      memoryLog,
    );
  metrics?.watch(openStreams);
  const app = new Hono();
  app.onError(handleError);
  app.notFound(handleNotFound);
  app.use((c, next) => {
    c.set("clientAddress", options.clientAddress?.(c));
    c.set("useRequestSignal", options.useRequestSignal ?? true);
    c.set("logger", logger);
    return next();
  });
  // Only when asked for: at the default level a request costs no extra middleware.
  if (config.logLevel === "debug") app.use(logRequest(logger));
  if (metrics) app.use(timePublishes(metrics));

  // Probes first: no authorization, CORS or rate limit applies to them.
  app.route("/", healthRoutes(hub, openStreams, options.readiness));
  if (metrics) app.get("/metrics", metrics.handler(config.metricsToken));

  if (config.corsOrigins.length > 0) {
    // First, so that preflights are answered and every answer (errors too) carries the headers.
    // `credentials` lets an EventSource opened `withCredentials` send the token cookie.
    const channelCors = cors({
      origin: config.corsOrigins,
      credentials: true,
      // DELETE: stopping a chat's answer (DELETE /api/chat/:id/stream).
      allowMethods: ["GET", "POST", "DELETE"],
      allowHeaders: ["authorization", "content-type", "last-event-id", "idempotency-key"],
      exposeHeaders: ["retry-after", "www-authenticate", "idempotent-replayed"],
    });
    // Durable streams answer CORS themselves, with the protocol's methods and headers.
    app.use((c, next) => (c.req.path.startsWith(STREAMS_PATH) ? next() : channelCors(c, next)));
  }

  // Once the feeds have ended for shutdown, an in-memory publish would reach no subscriber and
  // die with the process: refuse it, so the publisher sends it to the next instance instead.
  const refusesPublishes = options.hub === undefined;
  // One middleware for both (each one more step, and await, on every request).
  app.use((c, next) => {
    // Hono answers HEAD with the GET handler's headers and never sends its body: an event stream
    // made for HEAD would stay counted as open for as long as the process runs (found by
    // test/app/fuzz.test.ts, then seen on Node and Bun). Cancel it at once.
    // Only HEAD waits for the answer: any other request goes on without one more await.
    if (c.req.method === "HEAD") return cancelBodyAfter(c, next);
    if (refusesPublishes && c.req.method === "POST" && openStreams.shuttingDown) {
      return Promise.resolve(
        errorResponse(c, 503, "shutting_down", "the server is shutting down: try again shortly", {
          "retry-after": "1",
        }),
      );
    }
    return next();
  });

  // The seed's "Alternative #1": middleware that answers one path and passes everything else on
  // (registered for that path, so that no other request runs it).
  app.use("/sse", async (c, next) => {
    // HEAD too, as Hono's routes answer it (the HEAD middleware above cancels the body).
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    return tickerResponse(c, "Middleware", config, openStreams);
  });

  // "Alternative #2": a route on a sub-app, as the seed's controller at /api/sse.
  const api = new Hono();
  api.get("/sse", (c) => tickerResponse(c, "Controller", config, openStreams));

  // With the chat, its answers are private: a conversation is its user's.
  const access = channelAccess(config, options.chat ? [`${ANSWER_STREAMS_PREFIX}*`] : []);
  const rateLimit = publishRateLimit(config, options.publishRateLimitStore);
  const messages = messageRoutes(hub, access, rateLimit);
  api.route("/messages", messages);
  api.route("/channels/:channel/messages", messages);
  api.route("/channels/:channel/events", eventRoutes(hub, access, rateLimit, config.eventMaxBytes));
  // The seed's own path for the message stream.
  api.get(
    "/ssemessages",
    access.read(() => DEFAULT_CHANNEL),
    (c) => streamResponse(c, hub, DEFAULT_CHANNEL),
  );

  // Several channels in one stream, with one cursor over them all.
  api.route("/stream", channelSetRoutes(hub, access, config, openStreams));

  api.get("/stats", async (c) => {
    const channels = await hub.stats();
    const subscribers = Object.values(channels).reduce((sum, channel) => sum + channel.subscribers, 0);
    return c.json({ ...openStreams.toJSON(), subscribers, channels });
  });
  app.route("/api", api);

  const log = options.log ?? memoryLog;
  if (log !== undefined) {
    // Answers are durable streams of the same log: the chat needs one, and nothing else.
    if (options.chat) {
      app.route(
        "/api/chat",
        options.chat({
          log,
          access,
          rateLimit,
          eventStreamOptions: (c) => ({
            ...streamSettings(config),
            openStreams,
            signal: c.get("useRequestSignal") ? c.req.raw.signal : undefined,
            client: c.get("clientAddress"),
          }),
        }),
      );
    }
    const readForkSource = access.read((c) => tokenNameOf(forkSourceOf(c) as string));
    const mayReadForkSource: MiddlewareHandler =
      readForkSource === passThrough
        ? passThrough
        : (c, next) => (forkSourceOf(c) === undefined ? next() : readForkSource(c, next));
    // The chat's answers are written by their generation only.
    const readOnly: ReadOnlyPrefix[] = [CHANNEL_STREAMS_READ_ONLY, ...(options.chat ? [ANSWER_STREAMS_READ_ONLY] : [])];
    app.route(
      STREAMS_PATH,
      durableStreams({
        log,
        longPollTimeoutMs: config.longPollTimeoutMs,
        maxAppendBytes: config.streamMaxAppendBytes,
        // The same rules as channels: a token names streams as it names channels, PRIVATE_CHANNELS
        // patterns make streams private, and every write counts against PUBLISH_RATE_LIMIT.
        // A channel's stream is read as the channel is subscribed to: a token names the channel.
        authorizeRead: access.read((c) => tokenNameOf(streamNameOf(c))),
        // A fork copies its source: it needs the right to read that too, or a private stream
        // could be forked to a public name.
        authorizeWrite: inOrder(
          readOnlyStreams(streamNameOf, readOnly),
          access.publish(streamNameOf),
          mayReadForkSource,
          rateLimit,
        ),
        corsOrigins: config.corsOrigins.length > 0 ? config.corsOrigins : "*",
        cacheScope: config.authSecret === "" ? "public" : "private",
        requestBody: options.requestBody,
        eventStreamOptions: (c) => ({
          ...streamSettings(config),
          openStreams,
          signal: c.get("useRequestSignal") ? c.req.raw.signal : undefined,
          client: c.get("clientAddress"),
          kind: "durable-stream",
          channel: streamNameOf(c),
          endsAt: c.get("streamDeadline"),
        }),
      }),
    );
  }

  if (options.serveAssets) app.use(options.serveAssets);
  return app;
}

/** A channel's stream is written by publishing to the channel only (see channel-log.ts). */
const CHANNEL_STREAMS_READ_ONLY: ReadOnlyPrefix = {
  prefix: CHANNEL_STREAMS_PREFIX,
  why: "the channels' events: read them here, publish with POST /api/channels/:channel/events",
};

/** What a token names to read a stream: the channel for a channel's stream, else the stream. */
const tokenNameOf = (streamName: string) => channelOfStream(streamName) ?? streamName;

/**
 * One middleware that runs `handlers` in turn, as Hono runs a route's: each one's `next` runs the
 * following one, and an answer or error ends the chain. Not hono/combine's `every()`, which builds
 * its chain anew (an array, a composed function and a closure per handler) on every request; on
 * every append here. Checks that are off (`passThrough`) are left out: with none left, the chain
 * is `passThrough`, and with one, that one.
 */
function inOrder(...all: MiddlewareHandler[]): MiddlewareHandler {
  const handlers = all.filter((handler) => handler !== passThrough);
  if (handlers.length <= 1) return handlers[0] ?? passThrough;
  return (c, next) => runFrom(handlers, 0, c, next);
}

async function runFrom(handlers: MiddlewareHandler[], index: number, c: Context, next: Next): Promise<void> {
  const handler = handlers[index];
  if (handler === undefined) return next();
  const answer = await handler(c, () => runFrom(handlers, index + 1, c, next));
  // As Hono's compose does: an answer is the context's at once, for the handlers before it.
  if (answer instanceof Response && !c.finalized) c.res = answer;
}

async function cancelBodyAfter(c: Context, next: Next): Promise<void> {
  await next();
  await c.res.body?.cancel();
}

/** Where durable streams are served: the path the protocol's clients and conformance suite use. */
export const STREAMS_PATH = "/v1/stream";

/** One debug line per request, once answered (a stream's line says when its response began). */
function logRequest(logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    // The path only: a query may carry a token (?authorization=).
    logger.debug("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 1000) / 1000,
      client: c.get("clientAddress"),
    });
  };
}

/**
 * Times each accepted publish, from its request's arrival to its answer: the hub answers once
 * every local subscriber was written (the in-memory hub writes them all before it returns).
 */
function timePublishes(metrics: AppMetrics): MiddlewareHandler {
  return async (c, next) => {
    // Every POST the app answers with 201 is a publish.
    if (c.req.method !== "POST") return next();
    const started = performance.now();
    await next();
    if (c.res.status === 201) metrics.publishTook((performance.now() - started) / 1000);
  };
}
