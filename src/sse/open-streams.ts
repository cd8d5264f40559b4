/**
 * The streams open in this process, so that a server going away can end every one of them well:
 * each client gets what is already queued for it, then a `retry:` that brings it back soon (to the
 * next instance, with its Last-Event-ID), then the end of its stream. See docs/reliability.md.
 */
import type { EventSink, EventSource } from "./stream.ts";

/**
 * The reconnection delay sent at shutdown: short, so clients come back as soon as the next
 * instance can answer, instead of after the usual `retry:` (3 s by default).
 */
export const SHUTDOWN_RETRY_MS = 1_000;

export class OpenStreams {
  private readonly sinks = new Set<EventSink>();
  private shutdownRetryMs: number | undefined;

  /** Streams open now. */
  get size(): number {
    return this.sinks.size;
  }

  /** True once `shutdown()` was called: new streams end as soon as they start. */
  get shuttingDown(): boolean {
    return this.shutdownRetryMs !== undefined;
  }

  /**
   * Wraps `source` so that its stream is known while it runs. A stream that starts after
   * `shutdown()` (its request was already in flight) is ended at once, the same way.
   */
  track(source: EventSource): EventSource {
    return async (sink) => {
      if (this.shutdownRetryMs !== undefined) {
        sink.shutdown(this.spread(this.shutdownRetryMs));
        return;
      }
      this.sinks.add(sink);
      try {
        const stop = await source(sink);
        return () => {
          this.sinks.delete(sink);
          stop?.(sink);
        };
      } catch (error) {
        this.sinks.delete(sink);
        throw error;
      }
    };
  }

  /**
   * Ends every open stream with `sink.shutdown()`, and every stream that starts from now on.
   * Returns how many were open. Each client is asked to come back after between `retryMs` and
   * twice that, spread so that thousands of clients do not all reconnect at the same moment.
   */
  shutdown(retryMs = SHUTDOWN_RETRY_MS): number {
    this.shutdownRetryMs ??= retryMs;
    const sinks = [...this.sinks];
    this.sinks.clear();
    for (const sink of sinks) sink.shutdown(this.spread(this.shutdownRetryMs));
    return sinks.length;
  }

  private spread(retryMs: number): number {
    return retryMs + Math.floor(Math.random() * retryMs);
  }
}
