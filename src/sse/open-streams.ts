/**
 * The streams open in this process (or Workers isolate, or channel Durable Object): counted, for
 * `/api/stats`, so that anyone can see a disconnect free its stream; capped, so that no crowd of
 * clients, and no single client, holds more streams than the server was sized for; and known one
 * by one, so that a server going away can end every one of them well: each client gets what is
 * already queued for it, then a `retry:` that brings it back soon (to the next instance, with its
 * Last-Event-ID), then the end of its stream. See docs/reliability.md.
 *
 * A stream joins through its options (`eventStream(source, { openStreams, client })`) and reports
 * to this object itself: no closure per stream, which a server holding thousands pays for.
 */
import type { CloseReason, SseStream } from "./stream.ts";

/** The caps `OpenStreams` holds new streams to. */
export interface StreamCaps {
  /** Streams open at once in all; 0: no cap. */
  maxStreams: number;
  /** Streams open at once from one client address (where the runtime knows it); 0: no cap. */
  maxStreamsPerClient: number;
}

/** Which cap refused a stream. */
export type StreamCap = "streams" | "client-streams";

/** Thrown by `eventStream` when a cap is reached; the app answers 503 or 429 (see errors.ts). */
export class StreamCapError extends Error {
  constructor(readonly cap: StreamCap) {
    super(cap === "streams" ? "too many open streams" : "too many open streams from this client");
    this.name = "StreamCapError";
  }
}

/**
 * The reconnection delay sent at shutdown: short, so clients come back as soon as the next
 * instance can answer, instead of after the usual `retry:` (3 s by default).
 */
export const SHUTDOWN_RETRY_MS = 1_000;

const NO_CAPS: StreamCaps = { maxStreams: 0, maxStreamsPerClient: 0 };

/** How an `OpenStreams` runs its streams' keep-alives. */
export interface OpenStreamsOptions {
  /**
   * One keep-alive timer for all streams of the same period, instead of one per stream (measured
   * on Bun 1.4: a timer per stream costs about 300 bytes per idle connection). Only where every
   * stream lives in one I/O context (a Node, Bun or Deno process, a Durable Object): in a Workers
   * isolate a timer set by one request cannot write to another request's stream.
   */
  sharedKeepAliveTimers?: boolean;
  /**
   * Told of every admitted stream that ends, once, with why (and the error behind an overflow, a
   * stall or a failed source): for logs. Once per stream, never per event.
   */
  onClosed?: (stream: SseStream, reason: CloseReason, error: unknown) => void;
}

/** The kind counted for a stream that names none (see `EventStreamOptions.kind`). */
export const UNNAMED_KIND = "other";
/** What `/api/stats` shows of the open streams. */
export interface OpenStreamsStats {
  activeStreams: number;
  openedStreams: number;
  /** Client addresses with a stream open. */
  clients: number;
  closedBy: Partial<Record<CloseReason, number>>;
}

/** Streams that get their keep-alive from one timer. */
interface KeepAliveClock {
  timer: ReturnType<typeof setInterval>;
  streams: Set<SseStream>;
}

/**
 * The streams of one process, isolate or Durable Object: counted, capped and ended together (see
 * the module comment). Pass it to `eventStream` as `openStreams`.
 */
export class OpenStreams {
  activeStreams = 0;
  openedStreams = 0;
  readonly closedBy: Partial<Record<CloseReason, number>> = {};
  /** Open (admitted) streams per kind: a handful of kinds, counted at open and close only. */
  readonly openByKind: Record<string, number> = {};
  readonly onClosed: OpenStreamsOptions["onClosed"];
  // Open streams per client address; an address leaves the map with its last stream.
  private readonly perClient = new Map<string, number>();
  // Started streams, for shutdown.
  private readonly started = new Set<SseStream>();
  private shutdownRetryMs: number | undefined;
  // Shared keep-alive timers by period (one per configuration in practice).
  private readonly clocks = new Map<number, KeepAliveClock>();
  readonly sharesKeepAliveTimers: boolean;

  constructor(
    private readonly caps: StreamCaps = NO_CAPS,
    options: OpenStreamsOptions = {},
  ) {
    this.sharesKeepAliveTimers = options.sharedKeepAliveTimers ?? false;
    this.onClosed = options.onClosed;
  }

  /** Started streams open now. */
  get size(): number {
    return this.started.size;
  }

  /** True once `shutdown()` was called: new streams end as soon as they start. */
  get shuttingDown(): boolean {
    return this.shutdownRetryMs !== undefined;
  }

  /** A new stream from `client` is counted open, or refused with `StreamCapError` if a cap is reached. */
  admit(client: string | undefined, kind = UNNAMED_KIND): void {
    const { maxStreams, maxStreamsPerClient } = this.caps;
    if (maxStreams > 0 && this.activeStreams >= maxStreams) throw new StreamCapError("streams");
    const fromClient = client === undefined ? 0 : (this.perClient.get(client) ?? 0);
    if (client !== undefined && maxStreamsPerClient > 0 && fromClient >= maxStreamsPerClient) {
      throw new StreamCapError("client-streams");
    }
    this.activeStreams++;
    this.openedStreams++;
    this.openByKind[kind] = (this.openByKind[kind] ?? 0) + 1;
    if (client !== undefined) this.perClient.set(client, fromClient + 1);
  }

  /**
   * A stream began writing. One that starts after `shutdown()` (its request was already in flight)
   * is ended at once, the same way.
   */
  start(stream: SseStream): void {
    if (this.shutdownRetryMs === undefined) this.started.add(stream);
    else stream.shutdown(this.spread(this.shutdownRetryMs));
  }

  /** Gives a started stream its keep-alive from the shared timer of its period. */
  keepAlive(stream: SseStream, periodMs: number): void {
    let clock = this.clocks.get(periodMs);
    if (clock === undefined) {
      const streams = new Set<SseStream>();
      const tick = () => {
        // A stall closes its stream (and leaves the set) inside the loop, which a Set allows.
        for (const each of streams) each.keepAliveTick();
      };
      clock = { timer: setInterval(tick, periodMs), streams };
      this.clocks.set(periodMs, clock);
    }
    clock.streams.add(stream);
  }

  /** An admitted stream ended, once (SseStream.close runs once). */
  closed(stream: SseStream, client: string | undefined, reason: CloseReason, error?: unknown): void {
    this.started.delete(stream);
    for (const [periodMs, clock] of this.clocks) {
      // The last stream of a period takes its timer along, so an idle process holds no timer.
      if (clock.streams.delete(stream) && clock.streams.size === 0) {
        clearInterval(clock.timer);
        this.clocks.delete(periodMs);
      }
    }
    this.activeStreams--;
    const kind = stream.kind ?? UNNAMED_KIND;
    this.openByKind[kind] = (this.openByKind[kind] ?? 1) - 1;
    this.closedBy[reason] = (this.closedBy[reason] ?? 0) + 1;
    if (client !== undefined) {
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    }
    this.onClosed?.(stream, reason, error);
  }

  /**
   * Ends every open stream with `shutdown()`, and every stream that starts from now on. Returns how
   * many were open. Each client is asked to come back after between `retryMs` and twice that,
   * spread so that thousands of clients do not all reconnect at the same moment.
   */
  shutdown(retryMs = SHUTDOWN_RETRY_MS): number {
    this.shutdownRetryMs ??= retryMs;
    const streams = [...this.started];
    this.started.clear();
    for (const stream of streams) stream.shutdown(this.spread(this.shutdownRetryMs));
    return streams.length;
  }

  toJSON(): OpenStreamsStats {
    return {
      activeStreams: this.activeStreams,
      openedStreams: this.openedStreams,
      clients: this.perClient.size,
      closedBy: this.closedBy,
    };
  }

  private spread(retryMs: number): number {
    return retryMs + Math.floor(Math.random() * retryMs);
  }
}
