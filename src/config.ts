/**
 * Every setting, declared once in `SETTINGS`: its environment variable, default, how it is read and
 * checked, whether it is secret, and its line in README.md's table. The `Config` type, `DEFAULT_CONFIG`,
 * `readConfig`, `publicSettings` and that table (`npm run docs:settings`) all follow from it.
 *
 * The runtime entry reads the config from its environment (env vars, or Workers `vars`/secrets) and
 * passes it in; nothing else reads the environment.
 */
import { APPEND_SPACING_MS } from "./hub/log.ts";
import { LOG_LEVELS } from "./log/logger.ts";
import { STREAM_DEFAULTS } from "./sse/index.ts";

type Environment = Record<string, unknown>;

/** One setting: where it comes from, what it is when unset, and how it is read, shown and documented. */
export interface Setting<T> {
  /** Its environment variable (on Workers, a `[vars]` entry or a secret). */
  readonly env: string;
  readonly default: T;
  /** Its meaning, as README.md's table says it (Markdown). */
  readonly doc: string;
  /** README.md's default column: the default in code, or what an empty one means. */
  readonly defaultDoc: string;
  /** A secret: the start-up log says only whether it is set, as `<name>Set`. */
  readonly secret?: boolean;
  /** The variable's value, or undefined when it counts as unset; a bad value throws a TypeError naming it. */
  read(raw: unknown): T | undefined;
  /** How the start-up log shows a value that is no secret but may hold one (a URL's password). */
  show?(value: T): unknown;
  /** A check against the other settings (every value, by key), of a value read from the environment. */
  check?(value: T, config: Readonly<Record<string, unknown>>): void;
}

/** The object a set of declarations reads into: each one's value under its key. */
export type SettingsOf<S> = { -readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

interface Described {
  doc: string;
  defaultDoc?: string;
}

/** Digits only, from `min` (0 unless said) to `max`. */
function wholeNumber(
  env: string,
  fallback: number,
  {
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
    doc,
    defaultDoc = `\`${fallback}\``,
  }: Described & { min?: number; max?: number },
): Setting<number> {
  return {
    env,
    default: fallback,
    doc,
    defaultDoc,
    read(raw) {
      if (raw === undefined || raw === "") return undefined;
      const text = String(raw).trim();
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
        throw new TypeError(`${env} must be a whole number, got ${JSON.stringify(raw)}`);
      }
      const value = Number(text);
      if (value < min) throw new TypeError(`${env} must be at least ${min}`);
      if (value > max) throw new TypeError(`${env} must be at most ${max}, got ${value}`);
      return value;
    },
  };
}

type TextOptions = Described & {
  /** Throws on a bad value (the value read, trimmed unless `exact`). */
  check?: (text: string) => void;
  /** Taken as it is, spaces and all: a key that is compared byte for byte. */
  exact?: boolean;
  show?: (text: string) => unknown;
};

/** Text, trimmed unless `exact`; empty leaves the default. */
function text(env: string, fallback: string, options: TextOptions): Setting<string> {
  const { check, exact = false, doc, defaultDoc = fallback === "" ? "empty" : `\`${fallback}\``, show } = options;
  return {
    env,
    default: fallback,
    doc,
    defaultDoc,
    read(raw) {
      if (raw === undefined) return undefined;
      const value = exact ? String(raw) : String(raw).trim();
      if (value === "") return undefined;
      check?.(value);
      return value;
    },
    ...(show && { show }),
  };
}

/** A key, taken exactly as given, that the start-up log never shows; empty by default. */
function secret(
  env: string,
  { check, ...described }: Described & { check?: (value: string, config: Readonly<Record<string, unknown>>) => void },
): Setting<string> {
  return { ...text(env, "", { ...described, exact: true }), secret: true, ...(check && { check }) };
}

/** Comma-separated items, each checked; set but empty, it is the empty list. */
function list(
  env: string,
  fallback: string[],
  { checkItem, doc, defaultDoc = `\`${fallback.join(",")}\`` }: Described & { checkItem: (item: string) => void },
): Setting<string[]> {
  return {
    env,
    default: fallback,
    doc,
    defaultDoc,
    read(raw) {
      if (raw === undefined) return undefined;
      const items = String(raw)
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
      for (const item of items) checkItem(item);
      return items;
    },
  };
}

/** One of `values`; `anyCase` reads `DEBUG` as `debug`. */
function oneOf<const V extends readonly string[]>(
  env: string,
  values: V,
  fallback: V[number],
  { anyCase = false, doc, defaultDoc = `\`${fallback}\`` }: Described & { anyCase?: boolean },
): Setting<V[number]> {
  return {
    env,
    default: fallback,
    doc,
    defaultDoc,
    read(raw) {
      if (raw === undefined) return undefined;
      const value = anyCase ? String(raw).trim().toLowerCase() : String(raw).trim();
      if (value === "") return undefined;
      if (!values.includes(value)) {
        throw new TypeError(`${env} must be one of ${values.join(", ")}, got ${JSON.stringify(raw)}`);
      }
      return value as V[number];
    },
  };
}

/** `on` or `off`, in any case. */
function onOff(env: string, fallback: boolean, { doc }: Described): Setting<boolean> {
  return {
    env,
    default: fallback,
    doc,
    defaultDoc: fallback ? "`on`" : "`off`",
    read(raw) {
      if (raw === undefined) return undefined;
      const value = String(raw).trim().toLowerCase();
      if (value === "") return undefined;
      if (value !== "on" && value !== "off") {
        throw new TypeError(`${env} must be on or off, got ${JSON.stringify(raw)}`);
      }
      return value === "on";
    },
  };
}

export const AUTH_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
export type AuthAlgorithm = (typeof AUTH_ALGORITHMS)[number];

/** Every setting of the app, in the order README.md's table lists them. */
export const SETTINGS = {
  tickerIntervalMs: wholeNumber("TICKER_INTERVAL_MS", 5_000, {
    min: 1,
    doc: "ticker interval when `?interval=` is not given",
  }),
  keepAliveMs: wholeNumber("KEEP_ALIVE_MS", STREAM_DEFAULTS.keepAliveMs, {
    doc: "a `: keep-alive` comment this often; under Bun's 10 s idle timeout and common proxy timeouts; on workerd it also bounds how long a departed client's stream lingers; `0` turns it off",
  }),
  departureProbeMs: wholeNumber("DEPARTURE_PROBE_MS", STREAM_DEFAULTS.departureProbeMs, {
    doc: "workerd only: an empty line this long after each keep-alive (at most half of `KEEP_ALIVE_MS`): behind a proxy that notices a departed client only when it writes (wrangler dev's, measured), the stream notices it a keep-alive sooner; `0` turns it off (half the writes of an idle stream)",
  }),
  retryMs: wholeNumber("RETRY_MS", 3_000, {
    doc: "the `retry:` reconnection delay sent when a stream opens",
  }),
  maxBufferedBytes: wholeNumber("MAX_BUFFERED_BYTES", STREAM_DEFAULTS.maxBufferedBytes, {
    min: 1,
    doc: "unread bytes a client may leave queued before it is dropped (it resumes with `Last-Event-ID`)",
  }),
  maxBufferedEvents: wholeNumber("MAX_BUFFERED_EVENTS", STREAM_DEFAULTS.maxBufferedEvents, {
    min: 1,
    doc: "unread events a client may leave queued before it is dropped",
  }),
  historyLimit: wholeNumber("HISTORY_LIMIT", 1_000, {
    min: 1,
    doc: "messages each channel keeps for replay and listing",
  }),
  eventMaxBytes: wholeNumber("EVENT_MAX_BYTES", 64 * 1024, {
    min: 1,
    max: 1024 * 1024,
    doc: "the largest body `POST /api/channels/:channel/events` takes (`413` beyond); the demo's `/messages` routes take 16 KiB",
  }),
  idempotencyKeyTtlSeconds: wholeNumber("IDEMPOTENCY_KEY_TTL_SECONDS", 86_400, {
    min: 1,
    doc: "how long a channel remembers an `Idempotency-Key` and the event it published (see [Channel events](#channel-events)); in memory at most 10,000 keys per channel",
  }),
  shutdownTimeoutMs: wholeNumber("SHUTDOWN_TIMEOUT_MS", 5_000, {
    doc: "on SIGTERM or SIGINT (Node, Bun, Deno), how long ended streams may take to reach their clients before the process exits anyway (see [Reliability](docs/reliability.md))",
  }),
  shutdownDelayMs: wholeNumber("SHUTDOWN_DELAY_MS", 0, {
    doc: "on SIGTERM (Node, Bun, Deno), how long `/readyz` answers `503` while the server still serves, before it stops accepting: the time a load balancer needs to stop sending it clients",
  }),
  authSecret: secret("AUTH_SECRET", {
    defaultDoc: "empty (off)",
    doc: "the HMAC key tokens are signed with; set, authorization is on (see [Authorization](#authorization)); on Workers a secret (`wrangler secret put`, `.dev.vars` locally)",
    check: checkKeyLength,
  }),
  authAlgorithm: oneOf("AUTH_ALGORITHM", AUTH_ALGORITHMS, "HS256", {
    doc: "the one algorithm tokens may use: `HS256`, `HS384` or `HS512`",
  }),
  privateChannels: list("PRIVATE_CHANNELS", ["private-*"], {
    doc: "comma-separated channels that need a token to read: names, names ending in `*` (prefix), `*` for all; empty: none",
    checkItem: checkChannelPattern,
  }),
  authCookie: text("AUTH_COOKIE", "edge_sse_token", {
    doc: "the cookie a stream request may carry its token in",
    check: checkCookieName,
  }),
  corsOrigins: list("CORS_ORIGINS", [], {
    defaultDoc: "empty (no CORS)",
    doc: "comma-separated origins (`https://app.example.com`) allowed to call the API from a browser, with credentials",
    checkItem: checkOrigin,
  }),
  publishRateLimit: wholeNumber("PUBLISH_RATE_LIMIT", 600, {
    doc: "publishes a minute per token `sub`, or per client address without one; per process (per isolate on Workers), shared by all processes on Redis; `0` turns it off",
  }),
  maxStreams: wholeNumber("MAX_STREAMS", 10_000, {
    doc: "streams (tickers and feeds) open at once per process; on Workers per isolate for tickers and per channel (its object and shards) for its feed; beyond it `503`; `0`: no cap",
  }),
  maxStreamsPerClient: wholeNumber("MAX_STREAMS_PER_CLIENT", 100, {
    doc: "streams open at once from one client address (the socket's peer on Node, Bun, Deno; `CF-Connecting-IP` on Workers), counted where `MAX_STREAMS` is; beyond it `429`; behind a proxy every client has the proxy's address: raise it or set `0` there",
  }),
  maxChannelsPerStream: wholeNumber("MAX_CHANNELS_PER_STREAM", 16, {
    min: 1,
    // 128 channels make a cursor of up to 10.5 KB: Node and Bun refuse request headers over 16 KB.
    max: 128,
    doc: "channels one stream may follow (`GET /api/stream?channel=a&channel=b…`); also bounds its cursor (`Last-Event-ID`) to 82 characters a channel; more: `400`; at most 128",
  }),
  redisUrl: text("REDIS_URL", "", {
    defaultDoc: "empty (in memory)",
    doc: "Node, Bun and Deno: keep channels and durable streams in this Redis (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS), shared by every process on it (see [Scale out on Redis](#scale-out-on-redis))",
    check: checkRedisUrl,
    show: withoutPassword,
  }),
  redisTimeoutMs: wholeNumber("REDIS_TIMEOUT_MS", 2_000, {
    min: 1,
    doc: "how long a Redis command may take before the request answers `503 backend_unavailable`",
  }),
  answerAppendSpacingMs: wholeNumber("ANSWER_APPEND_SPACING_MS", APPEND_SPACING_MS, {
    max: 60_000,
    doc: "on Redis, AI answers (the demo chat's): the least ms between two of an answer's appends, which gather what the model yields meanwhile; readers on the generating process get each chunk at once, readers on other processes up to this much later; `0`: each append as soon as the last is stored (see [architecture](docs/architecture.md#resumable-ai-answers-srcai))",
  }),
  // Off by default: prom-client is not even loaded.
  metrics: onOff("METRICS", false, {
    doc: "`on` serves Prometheus metrics at `GET /metrics` on the main port (Node, Bun, Deno; see [operations](docs/operations.md#metrics))",
  }),
  metricsToken: secret("METRICS_TOKEN", {
    defaultDoc: "empty (open)",
    doc: "set, `/metrics` wants `Authorization: Bearer <METRICS_TOKEN>`",
  }),
  logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, "info", {
    anyCase: true,
    doc: "the least severe JSON log lines written on stderr: `error`, `warn`, `info` or `debug` (one line per request and per stream); see [operations](docs/operations.md#logs)",
  }),
  shardSubscribers: wholeNumber("SHARD_SUBSCRIBERS", 1_000, {
    min: 1,
    doc: "Workers only: subscribers one Durable Object of a channel holds; past it new ones go to further shard objects of that channel (an object may hold 32,768); see [docs/architecture.md](docs/architecture.md#workers)",
  }),
  longPollTimeoutMs: wholeNumber("LONG_POLL_TIMEOUT_MS", 15_000, {
    min: 1,
    doc: "durable streams (`/v1/stream`): how long a `live=long-poll` read waits for data before it answers `204`",
  }),
  streamMaxAppendBytes: wholeNumber("STREAM_MAX_APPEND_BYTES", 1024 * 1024, {
    doc: "durable streams: the largest body of one append or create; beyond it `413`; `0`: no limit",
  }),
  streamMaxBytes: wholeNumber("STREAM_MAX_BYTES", 64 * 1024 * 1024, {
    doc: "durable streams: the bytes one stream may hold; beyond it `413`; `0`: no limit",
  }),
  streamMaxAppends: wholeNumber("STREAM_MAX_APPENDS", 1_000_000, {
    doc: "durable streams: the appends one stream may hold; beyond it `413`; `0`: no limit",
  }),
  demoModelDelayMs: wholeNumber("DEMO_MODEL_DELAY_MS", 150, {
    doc: "the demo chat (`/api/chat`): ms between two words of the demo model, slow enough to reload mid-answer",
  }),
  // Long enough to reconnect after a network change; short enough that a client which kept the
  // finished message itself (useChat's persisted messages) is not sent it again on its next page load.
  chatAnswerTtlSeconds: wholeNumber("CHAT_ANSWER_TTL_SECONDS", 60, {
    min: 1,
    doc: "the demo chat: how long an answer stays resumable after its last read or write (its stream's sliding TTL); after it `GET /api/chat/:id/stream` answers `204`",
  }),
  chatMaxAnswersPerClient: wholeNumber("CHAT_MAX_ANSWERS_PER_CLIENT", 3, {
    doc: "the demo chat: answers in flight at once per client address (per process; on Workers counted exactly, in the address's `AnswersObject`); beyond it `POST /api/chat` answers `429`; `0`: no cap",
  }),
};

export type Config = SettingsOf<typeof SETTINGS>;

/** Where the Node, Bun and Deno servers listen, read by `readListenAddress`, not part of `Config`. */
export const LISTEN_SETTINGS = {
  port: wholeNumber("PORT", 8787, {
    max: 65_535,
    doc: "the port the server listens on (`npm start` passes it to wrangler dev too)",
  }),
  // As given: the servers would refuse a bad address themselves.
  hostname: text("HOST", "127.0.0.1", {
    exact: true,
    doc: "the address the server listens on (`npm start` passes it to wrangler dev too)",
  }),
};

type Settings = Record<string, Setting<unknown>>;

function readSettings<S extends Settings>(settings: S, env: Environment): SettingsOf<S> {
  const values: Record<string, unknown> = {};
  const read: [Setting<unknown>, unknown][] = [];
  for (const [key, setting] of Object.entries(settings)) {
    const value = setting.read(env[setting.env]);
    values[key] = value ?? setting.default;
    if (value !== undefined) read.push([setting, value]);
  }
  // Once every value is known: a check may depend on another setting.
  for (const [setting, value] of read) setting.check?.(value, values);
  return values as SettingsOf<S>;
}

export const DEFAULT_CONFIG: Readonly<Config> = readSettings(SETTINGS, {});

/** Builds the config from the environment; a malformed value stops start-up with its name. */
export function readConfig(env: Environment): Config {
  return readSettings(SETTINGS, env);
}

/** Where the Node, Bun and Deno servers listen: `PORT` and `HOST`, as `npm start` does for wrangler. */
export function readListenAddress(env: Environment): { port: number; hostname: string } {
  return readSettings(LISTEN_SETTINGS, env);
}

/**
 * The settings as a start-up log line shows them: every one, except that secrets only say whether
 * they are set (`authSecretSet`), and a value that may hold one shows it masked.
 */
export function publicSettings(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS as Settings)) {
    const value = config[key as keyof Config];
    if (setting.secret) shown[`${key}Set`] = value !== "";
    else shown[key] = setting.show ? setting.show(value) : value;
  }
  return shown;
}

/** The per-stream part of the config, as the SSE core takes it. */
export function streamSettings(config: Config) {
  return {
    retry: config.retryMs,
    keepAliveMs: config.keepAliveMs,
    departureProbeMs: config.departureProbeMs,
    maxBufferedBytes: config.maxBufferedBytes,
    maxBufferedEvents: config.maxBufferedEvents,
  };
}

/** What one durable stream may hold, as the logs take it. */
export function streamLimits(config: Config) {
  return { maxBytes: config.streamMaxBytes, maxEntries: config.streamMaxAppends };
}

/** RFC 7518 §3.2: an HMAC key MUST be at least as long as the hash output (32 bytes for HS256). */
function checkKeyLength(key: string, config: Readonly<Record<string, unknown>>): void {
  const minimum = Number(String(config.authAlgorithm).slice(2)) / 8;
  if (new TextEncoder().encode(key).byteLength < minimum) {
    throw new TypeError(`AUTH_SECRET must be at least ${minimum} bytes long`);
  }
}

/** A channel name (see src/app/messages.ts), optionally ending in `*`, or `*` alone. */
function checkChannelPattern(pattern: string): void {
  if (!/^(?:[A-Za-z0-9_-]{1,64}\*?|\*)$/.test(pattern)) {
    throw new TypeError(
      `PRIVATE_CHANNELS: ${JSON.stringify(pattern)} is not a channel name, a name ending in '*', or '*'`,
    );
  }
}

/** RFC 6265 cookie-name: an HTTP token. */
function checkCookieName(name: string): void {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new TypeError(`AUTH_COOKIE must be a cookie name, got ${JSON.stringify(name)}`);
  }
}

/** Browsers send Origin as scheme://host[:port], nothing more; anything else would never match. */
function checkOrigin(origin: string): void {
  let parsed: string | undefined;
  try {
    parsed = new URL(origin).origin;
  } catch {
    parsed = undefined;
  }
  if (parsed !== origin) {
    throw new TypeError(`CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://example.com`);
  }
}

/** A `redis://` or `rediss://` URL with a host, and a database number as its path if any. */
function checkRedisUrl(text: string): void {
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
}

/** A Redis URL as a log may show it: its password replaced by `***`. */
function withoutPassword(redisUrl: string): string {
  if (redisUrl === "") return "";
  const url = new URL(redisUrl);
  if (url.password !== "") url.password = "***";
  return url.toString();
}
