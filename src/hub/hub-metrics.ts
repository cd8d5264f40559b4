/**
 * What a hub reports for metrics (docs/operations.md). Runtime-neutral: the hub only calls these;
 * the app decides where the figures go (prom-client on Node, Bun and Deno, when `METRICS` is on).
 * Each call is one increment, made once per publish or per replayed message, never once per
 * subscriber: the fan-out loop stays as fast with metrics as without.
 */
export interface HubMetrics {
  /** A message was accepted on `channel`, once per publish, by the hub instance that stored it. */
  published(channel: string): void;
  /**
   * `count` events were written to subscribers: once per publish (the local subscribers written,
   * 0 if none) and once per replayed message (1).
   */
  delivered(count: number): void;
  /** A hub with a backend (Redis): the connection to it is up or down; called on every change. */
  redisConnected(connected: boolean): void;
  /** The Redis hub found a gap in what it received and read the `count` missing messages back. */
  gapFilled(count: number): void;
  /** The Redis hub came back after a lost connection and caught up its subscribers. */
  recovered(): void;
}

const nothing = () => undefined;

/** The default: with metrics off, every report is a call to a function that does nothing. */
export const NO_HUB_METRICS: HubMetrics = Object.freeze({
  published: nothing,
  delivered: nothing,
  redisConnected: nothing,
  gapFilled: nothing,
  recovered: nothing,
});
