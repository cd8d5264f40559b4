/**
 * Every setting in one typed object. The runtime entry reads it from its environment (env vars,
 * or Workers `vars`/secrets) and passes it in; nothing else reads the environment.
 */
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
}

export const DEFAULT_CONFIG: Readonly<Config> = {
  tickerIntervalMs: 5_000,
  keepAliveMs: STREAM_DEFAULTS.keepAliveMs,
  retryMs: 3_000,
  maxBufferedBytes: STREAM_DEFAULTS.maxBufferedBytes,
  maxBufferedEvents: STREAM_DEFAULTS.maxBufferedEvents,
  historyLimit: 1_000,
};

/** Environment variable names, one per setting. */
const ENV_NAMES: Record<keyof Config, string> = {
  tickerIntervalMs: "TICKER_INTERVAL_MS",
  keepAliveMs: "KEEP_ALIVE_MS",
  retryMs: "RETRY_MS",
  maxBufferedBytes: "MAX_BUFFERED_BYTES",
  maxBufferedEvents: "MAX_BUFFERED_EVENTS",
  historyLimit: "HISTORY_LIMIT",
};

type Environment = Record<string, unknown>;

/** Builds the config from the environment; a malformed value stops start-up with its name. */
export function readConfig(env: Environment): Config {
  const config = { ...DEFAULT_CONFIG };
  for (const key of Object.keys(ENV_NAMES) as (keyof Config)[]) {
    const raw = env[ENV_NAMES[key]];
    if (raw === undefined || raw === "") continue;
    config[key] = readWholeNumber(ENV_NAMES[key], raw);
  }
  // Zero is meaningful only for the keep-alive (off) and retry (reconnect at once).
  for (const key of ["tickerIntervalMs", "maxBufferedBytes", "maxBufferedEvents", "historyLimit"] as const) {
    if (config[key] < 1) throw new TypeError(`${ENV_NAMES[key]} must be at least 1`);
  }
  return config;
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
