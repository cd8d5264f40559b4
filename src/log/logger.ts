/**
 * Structured logs: one JSON object per line (time, level, message, then the fields), the shape log
 * collectors read without a parser of their own. Runtime-neutral: it writes through `console`,
 * which every runtime has (Node, Bun and Deno send `console.error` to stderr; Workers Logs and
 * `wrangler tail` collect whatever the Worker logs). Made once by the runtime entry from `LOG_LEVEL`
 * and handed to whatever logs (app, hubs): no module-level logger to reconfigure.
 */

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;
export type LogMethod = (message: string, fields?: LogFields) => void;

export interface Logger {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
}

/** Where a finished line goes. */
export type LogWriter = (level: LogLevel, line: string) => void;

/** stderr on Node, Bun and Deno, so that stdout stays free for whatever a supervisor pipes. */
export const writeToStderr: LogWriter = (_level, line) => console.error(line);

/**
 * Workers Logs files each line under the level of the console method that wrote it (an info line
 * written with `console.error` would show as an error there), so on Workers each level has its own.
 */
export const writeToConsoleByLevel: LogWriter = (level, line) => console[level](line);

// A level that is off costs one call to this and nothing else: no line, no JSON.
const ignore: LogMethod = () => undefined;

/** Keys whose values never reach a log line, whoever passes them (see `redacted`). */
const SECRET_KEY = /token|secret|password|authorization|cookie|credential/i;
export const REDACTED = "[redacted]";

export function createLogger(level: LogLevel, write: LogWriter = writeToStderr): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const method = (methodLevel: LogLevel): LogMethod =>
    LOG_LEVELS.indexOf(methodLevel) > threshold
      ? ignore
      : (message, fields) => write(methodLevel, formatLine(methodLevel, message, fields));
  return { error: method("error"), warn: method("warn"), info: method("info"), debug: method("debug") };
}

/** A logger that writes nothing: the default of code that is given none (tests, library use). */
export const SILENT_LOGGER: Logger = { error: ignore, warn: ignore, info: ignore, debug: ignore };

export function formatLine(level: LogLevel, message: string, fields: LogFields = {}): string {
  const entry: LogFields = { time: new Date().toISOString(), level, message };
  // The three leading keys stay what they are: a field cannot pass for another level or time.
  for (const [key, value] of Object.entries(fields)) if (!(key in entry)) entry[key] = value;
  try {
    return JSON.stringify(entry, redacted);
  } catch (error) {
    // A field JSON cannot write (a BigInt, a cycle) must not lose the line itself.
    return JSON.stringify({ time: entry.time, level, message, logError: String(error) });
  }
}

/**
 * JSON.stringify's replacer: errors as their name, message and stack (JSON makes `{}` of them), and
 * a secret-looking key's value replaced, at any depth. The real guard is that no caller logs a
 * secret (start-up logs say whether authorization is on, never the key); this one catches slips.
 */
function redacted(this: unknown, key: string, value: unknown): unknown {
  if (key !== "" && SECRET_KEY.test(key) && value !== undefined && typeof value !== "boolean") return REDACTED;
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack };
  }
  return value;
}
