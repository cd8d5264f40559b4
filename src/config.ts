/**
 * Every setting in one typed object. The runtime entry reads it from its environment (env vars,
 * or Workers `vars`/secrets) and passes it in; nothing else reads the environment.
 */
import { LOG_LEVELS, type LogLevel } from "./log/logger.ts";
import { STREAM_DEFAULTS } from "./sse/index.ts";

export interface Config {
  /** Time between ticker events when `?interval=` is not given (the seed's 5 s). */
  tickerIntervalMs: number;
  /** How often a quiet stream gets a keep-alive comment. Under Bun's 10 s idle timeout. */
  keepAliveMs: number;
  /** Reconnection delay the server asks clients to use, sent as `retry:` when a stream opens. */
  retryMs: number;
  /** Unread bytes per client before it is dropped as too slow (it resumes with Last-Event-ID). */
  maxBufferedBytes: number;
  /** Unread events per client before it is dropped as too slow. */
  maxBufferedEvents: number;
  /** Messages each channel keeps for replay and listing. */
  historyLimit: number;
  /**
   * On SIGTERM or SIGINT (Node, Bun, Deno), how long the server waits for the ended streams to
   * reach their clients before it exits anyway (a client that stopped reading cannot hold it).
   */
  shutdownTimeoutMs: number;
  /**
   * On SIGTERM, how long `/readyz` answers 503 while the server still serves, before it stops
   * accepting: the time a load balancer or Kubernetes needs to stop sending it new clients. 0: stop at once.
   */
  shutdownDelayMs: number;
  /** HMAC key that tokens (JWTs) are signed with; authorization is on when it is set. */
  authSecret: string;
  /** The one algorithm a token may be signed with: HS256, HS384 or HS512. */
  authAlgorithm: AuthAlgorithm;
  /** Channels that need a token to read: names, a trailing `*` matches any rest, `*` alone every channel. */
  privateChannels: string[];
  /** The cookie a browser's EventSource can carry its token in (it cannot set headers). */
  authCookie: string;
  /** Origins allowed to call the API from a browser, with credentials; empty sends no CORS headers. */
  corsOrigins: string[];
  /** Publishes per minute per token subject, or per client address without one; 0 turns it off. */
  publishRateLimit: number;
  /**
   * Streams open at once per process (per isolate on Workers, and per channel object for feeds
   * there); beyond it a new stream gets 503 with Retry-After. 0: no cap.
   */
  maxStreams: number;
  /**
   * Streams open at once from one client address, where the runtime knows it; beyond it 429 with
   * Retry-After. Behind a proxy every client has the proxy's address: raise it or set 0 there.
   */
  maxStreamsPerClient: number;
  /**
   * Node, Bun and Deno: channels live in this Redis (`redis://[user:password@]host:port[/db]`, or
   * `rediss://` for TLS), shared by every process on it. Empty: in this process's memory.
   */
  redisUrl: string;
  /** How long a Redis command may take before the request answers 503 (and a connection attempt). */
  redisTimeoutMs: number;
  /**
   * `GET /metrics` in the Prometheus text format, on the main port (Node, Bun and Deno; Workers
   * have their own tools, see docs/operations.md). Off by default: prom-client is not even loaded.
   */
  metrics: boolean;
  /** If set, `/metrics` wants `Authorization: Bearer <this>`; empty: open to whoever reaches it. */
  metricsToken: string;
  /** The least severe log lines written: error, warn, info or debug (per request and per stream). */
  logLevel: LogLevel;
  /**
   * Workers only: subscribers one Durable Object of a channel holds before new ones go to a further
   * shard object of that channel (Cloudflare allows 32,768 hibernatable WebSockets per object).
   */
  shardSubscribers: number;
  /** Durable streams: how long `live=long-poll` waits for data before it answers 204. */
  longPollTimeoutMs: number;
  /** Durable streams: the largest body of one append or create (413 beyond); 0: no limit. */
  streamMaxAppendBytes: number;
  /** Durable streams: the bytes one stream may hold (413 beyond); 0: no limit. */
  streamMaxBytes: number;
  /** Durable streams: the appends one stream may hold (413 beyond); 0: no limit. */
  streamMaxAppends: number;
}

export const AUTH_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
export type AuthAlgorithm = (typeof AUTH_ALGORITHMS)[number];

export const DEFAULT_CONFIG: Readonly<Config> = {
  tickerIntervalMs: 5_000,
  keepAliveMs: STREAM_DEFAULTS.keepAliveMs,
  retryMs: 3_000,
  maxBufferedBytes: STREAM_DEFAULTS.maxBufferedBytes,
  maxBufferedEvents: STREAM_DEFAULTS.maxBufferedEvents,
  historyLimit: 1_000,
  shutdownTimeoutMs: 5_000,
  shutdownDelayMs: 0,
  authSecret: "",
  authAlgorithm: "HS256",
  privateChannels: ["private-*"],
  authCookie: "edge_sse_token",
  corsOrigins: [],
  publishRateLimit: 600,
  maxStreams: 10_000,
  maxStreamsPerClient: 100,
  redisUrl: "",
  redisTimeoutMs: 2_000,
  metrics: false,
  metricsToken: "",
  logLevel: "info",
  shardSubscribers: 1_000,
  longPollTimeoutMs: 15_000,
  streamMaxAppendBytes: 1024 * 1024,
  streamMaxBytes: 64 * 1024 * 1024,
  streamMaxAppends: 1_000_000,
};

type WholeNumberSetting = { [K in keyof Config]: Config[K] extends number ? K : never }[keyof Config];

/** Environment variable names, one per whole-number setting (the others are read below). */
const ENV_NAMES: Record<WholeNumberSetting, string> = {
  tickerIntervalMs: "TICKER_INTERVAL_MS",
  keepAliveMs: "KEEP_ALIVE_MS",
  retryMs: "RETRY_MS",
  maxBufferedBytes: "MAX_BUFFERED_BYTES",
  maxBufferedEvents: "MAX_BUFFERED_EVENTS",
  historyLimit: "HISTORY_LIMIT",
  shutdownTimeoutMs: "SHUTDOWN_TIMEOUT_MS",
  shutdownDelayMs: "SHUTDOWN_DELAY_MS",
  publishRateLimit: "PUBLISH_RATE_LIMIT",
  maxStreams: "MAX_STREAMS",
  maxStreamsPerClient: "MAX_STREAMS_PER_CLIENT",
  redisTimeoutMs: "REDIS_TIMEOUT_MS",
  shardSubscribers: "SHARD_SUBSCRIBERS",
  longPollTimeoutMs: "LONG_POLL_TIMEOUT_MS",
  streamMaxAppendBytes: "STREAM_MAX_APPEND_BYTES",
  streamMaxBytes: "STREAM_MAX_BYTES",
  streamMaxAppends: "STREAM_MAX_APPENDS",
};

type Environment = Record<string, unknown>;

/** Builds the config from the environment; a malformed value stops start-up with its name. */
export function readConfig(env: Environment): Config {
  const config = { ...DEFAULT_CONFIG };
  for (const key of Object.keys(ENV_NAMES) as WholeNumberSetting[]) {
    const raw = env[ENV_NAMES[key]];
    if (raw === undefined || raw === "") continue;
    config[key] = readWholeNumber(ENV_NAMES[key], raw);
  }
  // Zero is meaningful only for the keep-alive (off) and retry (reconnect at once).
  for (const key of [
    "tickerIntervalMs",
    "maxBufferedBytes",
    "maxBufferedEvents",
    "historyLimit",
    "redisTimeoutMs",
    "shardSubscribers",
    "longPollTimeoutMs",
  ] as const) {
    if (config[key] < 1) throw new TypeError(`${ENV_NAMES[key]} must be at least 1`);
  }
  Object.assign(config, readAccessSettings(env), readOperationsSettings(env));
  const redisUrl = env.REDIS_URL === undefined ? "" : String(env.REDIS_URL).trim();
  if (redisUrl !== "") config.redisUrl = checkRedisUrl(redisUrl);
  return config;
}

/** A `redis://` or `rediss://` URL with a host, and a database number as its path if any. */
function checkRedisUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  // The message never repeats the URL: it may hold a password.
  if (url === undefined || (url.protocol !== "redis:" && url.protocol !== "rediss:") || url.hostname === "") {
    throw new TypeError("REDIS_URL must look like redis://[user:password@]host:port[/db] (or rediss:// for TLS)");
  }
  if (!/^\/?\d*$/.test(url.pathname)) throw new TypeError("REDIS_URL: the path must be a database number, as in /0");
  return text;
}

/** Metrics and logs (docs/operations.md). */
function readOperationsSettings(env: Environment) {
  const settings: Partial<Config> = {};
  const metrics = env.METRICS === undefined ? "" : String(env.METRICS).trim().toLowerCase();
  if (metrics !== "") {
    if (metrics !== "on" && metrics !== "off") {
      throw new TypeError(`METRICS must be on or off, got ${JSON.stringify(env.METRICS)}`);
    }
    settings.metrics = metrics === "on";
  }
  // Not trimmed, like AUTH_SECRET: it is compared exactly.
  if (env.METRICS_TOKEN !== undefined && env.METRICS_TOKEN !== "") settings.metricsToken = String(env.METRICS_TOKEN);
  const level = env.LOG_LEVEL === undefined ? "" : String(env.LOG_LEVEL).trim().toLowerCase();
  if (level !== "") {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new TypeError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(env.LOG_LEVEL)}`);
    }
    settings.logLevel = level as LogLevel;
  }
  return settings;
}

/**
 * The settings as a start-up log line shows them: every one, except that secrets only say
 * whether they are set. A new secret setting must be added here.
 */
export function publicSettings(config: Config): Record<string, unknown> {
  const { authSecret, metricsToken, redisUrl, ...rest } = config;
  return {
    ...rest,
    authSecretSet: authSecret !== "",
    metricsTokenSet: metricsToken !== "",
    redisUrl: withoutPassword(redisUrl),
  };
}

/** A channel name (see src/app/messages.ts), optionally ending in `*`, or `*` alone. */
const CHANNEL_PATTERN = /^(?:[A-Za-z0-9_-]{1,64}\*?|\*)$/;

function originOf(text: string): string | undefined {
  try {
    return new URL(text).origin;
  } catch {
    return undefined;
  }
}

/** Authorization and CORS settings: text and lists, each checked so a typo stops start-up. */
function readAccessSettings(env: Environment) {
  const text = (name: string) => (env[name] === undefined ? "" : String(env[name]).trim());
  const list = (name: string) =>
    text(name)
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  const settings: Partial<Config> = {};
  const algorithm = text("AUTH_ALGORITHM");
  if (algorithm !== "") {
    if (!(AUTH_ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new TypeError(
        `AUTH_ALGORITHM must be one of ${AUTH_ALGORITHMS.join(", ")}, got ${JSON.stringify(algorithm)}`,
      );
    }
    settings.authAlgorithm = algorithm as AuthAlgorithm;
  }
  // Not trimmed: the key is exactly what the token issuer signs with.
  const secret = env.AUTH_SECRET === undefined ? "" : String(env.AUTH_SECRET);
  if (secret !== "") {
    // RFC 7518 §3.2: the key MUST be at least as long as the hash output (32 bytes for HS256).
    const minimum = Number((settings.authAlgorithm ?? DEFAULT_CONFIG.authAlgorithm).slice(2)) / 8;
    if (new TextEncoder().encode(secret).byteLength < minimum) {
      throw new TypeError(`AUTH_SECRET must be at least ${minimum} bytes long`);
    }
    settings.authSecret = secret;
  }
  if (env.PRIVATE_CHANNELS !== undefined) {
    settings.privateChannels = list("PRIVATE_CHANNELS");
    for (const pattern of settings.privateChannels) {
      if (!CHANNEL_PATTERN.test(pattern)) {
        throw new TypeError(
          `PRIVATE_CHANNELS: ${JSON.stringify(pattern)} is not a channel name, a name ending in '*', or '*'`,
        );
      }
    }
  }
  const cookie = text("AUTH_COOKIE");
  if (cookie !== "") {
    // RFC 6265 cookie-name: an HTTP token.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cookie)) {
      throw new TypeError(`AUTH_COOKIE must be a cookie name, got ${JSON.stringify(cookie)}`);
    }
    settings.authCookie = cookie;
  }
  if (env.CORS_ORIGINS !== undefined) {
    settings.corsOrigins = list("CORS_ORIGINS");
    for (const origin of settings.corsOrigins) {
      // Browsers send Origin as scheme://host[:port], nothing more; anything else would never match.
      if (originOf(origin) !== origin) {
        throw new TypeError(`CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://example.com`);
      }
    }
  }
  return settings;
}

/** The per-stream part of the config, as the SSE core takes it. */
export function streamSettings(config: Config) {
  return {
    retry: config.retryMs,
    keepAliveMs: config.keepAliveMs,
    maxBufferedBytes: config.maxBufferedBytes,
    maxBufferedEvents: config.maxBufferedEvents,
  };
}

/** What one durable stream may hold, as the logs take it. */
export function streamLimits(config: Config) {
  return { maxBytes: config.streamMaxBytes, maxEntries: config.streamMaxAppends };
}

/** Where the Node, Bun and Deno servers listen: `PORT` and `HOST`, as `npm start` does for wrangler. */
export function readListenAddress(env: Environment): { port: number; hostname: string } {
  const port = env.PORT === undefined || env.PORT === "" ? 8787 : readWholeNumber("PORT", env.PORT);
  if (port > 65_535) throw new TypeError(`PORT must be at most 65535, got ${port}`);
  const host = env.HOST;
  return { port, hostname: typeof host === "string" && host !== "" ? host : "127.0.0.1" };
}

function readWholeNumber(name: string, raw: unknown): number {
  const text = String(raw).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new TypeError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  }
  return Number(text);
}

/** A Redis URL as a log may show it: its password replaced by `***`. */
function withoutPassword(redisUrl: string): string {
  if (redisUrl === "") return "";
  const url = new URL(redisUrl);
  if (url.password !== "") url.password = "***";
  return url.toString();
}
