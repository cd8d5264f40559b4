/**
 * How long to wait before the next attempt: exponential backoff with full jitter (a uniformly
 * random wait between 0 and the capped exponential), so that clients dropped together by one
 * server do not come back together ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
 */
export interface BackoffOptions {
  /** The first attempt's ceiling, ms; a server's `retry:` replaces it. Default 1000. */
  initialMs?: number;
  /** The ceiling no wait exceeds, ms. Default 30000. */
  maxMs?: number;
}

export const BACKOFF_DEFAULTS = { initialMs: 1_000, maxMs: 30_000 } as const;

/** The wait before attempt `attempt` (0 for the first retry): random in [0, min(max, base·2^attempt)]. */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number = BACKOFF_DEFAULTS.maxMs,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
