/**
 * The seed's ticker: "{label} {i} at {time}" every few seconds, for as long as the client stays.
 */
import type { Context } from "hono";
import { z } from "zod";
import { type Config, streamSettings } from "../config.ts";
import { streamEvents } from "../hono/index.ts";
import type { EventSource, OpenStreams } from "../sse/index.ts";
import { parseOrThrow, queryOf } from "./validation.ts";

export const TICKER_INTERVAL_LIMITS = { min: 100, max: 60_000 } as const;

const tickerQuery = z.object({
  interval: z
    .string()
    .regex(/^\d+$/, "must be a whole number of milliseconds")
    .transform(Number)
    .pipe(z.number().min(TICKER_INTERVAL_LIMITS.min).max(TICKER_INTERVAL_LIMITS.max))
    .optional(),
});

export interface Ticker {
  label: string;
  intervalMs: number;
  /** The id of the first event; later ones count up from it. */
  firstId: number;
}

/** Sends an event at once, then one every `intervalMs`, until the stream ends. */
export function tickerSource({ label, intervalMs, firstId }: Ticker): EventSource {
  return (sink) => {
    let i = firstId;
    const tick = () => {
      sink.send({ id: i, data: `${label} ${i} at ${new Date().toISOString()}` });
      i++;
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    return () => clearInterval(timer);
  };
}

/** The ticker response for one request: validates `?interval=`, resumes after `Last-Event-ID`. */
export function tickerResponse(c: Context, label: string, config: Config, openStreams: OpenStreams): Response {
  const query = parseOrThrow(tickerQuery, queryOf(c), "query");
  const ticker: Ticker = {
    label,
    intervalMs: query.interval ?? config.tickerIntervalMs,
    firstId: nextIdAfter(c.req.header("last-event-id")),
  };
  return streamEvents(c, tickerSource(ticker), {
    ...streamSettings(config),
    useRequestSignal: c.get("useRequestSignal"),
    openStreams,
    client: c.get("clientAddress"),
    kind: "ticker",
  });
}

/** A reconnecting client continues the count; an id that is not ours starts it again at 0. */
function nextIdAfter(lastEventId: string | undefined): number {
  if (lastEventId === undefined || !/^\d{1,15}$/.test(lastEventId)) return 0;
  return Number(lastEventId) + 1;
}
