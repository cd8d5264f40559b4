/**
 * Async-iterable sources: an async generator, a `ReadableStream`, an SDK's stream of chunks. Each
 * item is an event (see `EventOf`), or a string as a message's data.
 *
 * Pulled, never pushed: the next item is asked for only once the last one was written, and an
 * item that does not fit in what the client may leave unread waits for the client to read
 * (`fits`/`onPull`, as a replay does). So a slow client holds the producer back, at most the
 * stream's `maxBufferedEvents` / `maxBufferedBytes` ahead of what it has read, instead of
 * growing memory or being dropped as too slow. When the stream ends, for any reason, the
 * iterator's `return()` runs: a generator's `finally` runs, a `ReadableStream` is cancelled, so an
 * upstream request behind it can be aborted.
 */
import { type AnyEvents, encodeEventOf, type ItemOf } from "./event-map.ts";
import type { SseStream } from "./stream.ts";

/** A source that is pulled: any async iterable, or a `ReadableStream`, of `ItemOf<Events>`. */
export type IterableSource<Events extends object = AnyEvents> =
  | AsyncIterable<ItemOf<Events>>
  | ReadableStream<ItemOf<Events>>;

/** Whether a source (or what a function source returned) is to be pulled rather than called. */
export function isIterableSource(value: unknown): value is IterableSource {
  return (
    typeof value === "object" &&
    value !== null &&
    (Symbol.asyncIterator in value || typeof (value as ReadableStream).getReader === "function")
  );
}

/** Starts pulling `source` into `stream`; returns the stop that ends the iterator. */
export function pumpIterable(source: IterableSource, stream: SseStream): () => void {
  const pump = new IterablePump(iteratorOf(source), stream);
  pump.run().catch((error) => stream.fail(error));
  return () => pump.stop();
}

/** Ends an iterable that was never pulled: a `ReadableStream` is cancelled, a generator returns. */
export function releaseIterable(source: IterableSource): void {
  try {
    iteratorOf(source)
      .return?.()
      ?.catch?.(() => {});
  } catch {
    // Already locked or finished by its owner: nothing of ours to release.
  }
}

class IterablePump {
  private stopped = false;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly iterator: AsyncIterator<ItemOf<AnyEvents>>,
    private readonly stream: SseStream,
  ) {}

  async run(): Promise<void> {
    const { iterator, stream } = this;
    while (!this.stopped) {
      const item = await iterator.next();
      // The stream ended while the item was on its way: it is dropped, and stop() has asked the
      // iterator to return (an async generator runs that after this next() settles).
      if (this.stopped) return;
      if (item.done) {
        stream.close("source-ended");
        return;
      }
      const chunk = encodeEventOf(typeof item.value === "string" ? { data: item.value } : item.value);
      if (!stream.fits(chunk)) {
        await this.clientRead();
        if (this.stopped) return;
      }
      // After a read it fits, unless the one event is bigger than the whole limit: then the
      // stream drops the client as it would for any source (overflow).
      stream.write(chunk);
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stream.onPull = undefined;
    this.wakeUp?.();
    try {
      // Not awaited: a generator busy in an await returns once that settles, and the stream
      // does not wait for it. A failure here is the source's, and the stream is over anyway.
      this.iterator.return?.()?.catch?.((error: unknown) => console.error("edge-sse: iterator return failed", error));
    } catch (error) {
      console.error("edge-sse: iterator return failed", error);
    }
  }

  /** Resolves when the client has read enough for more to fit, or the stream has ended. */
  private clientRead(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      this.stream.onPull = () => {
        this.stream.onPull = undefined;
        this.wakeUp = undefined;
        resolve();
      };
    });
  }
}

function iteratorOf(source: IterableSource): AsyncIterator<ItemOf<AnyEvents>> {
  if (Symbol.asyncIterator in source) return (source as AsyncIterable<ItemOf<AnyEvents>>)[Symbol.asyncIterator]();
  // A ReadableStream where the runtime (or its types) has no async iteration yet.
  const reader = (source as ReadableStream<ItemOf<AnyEvents>>).getReader();
  return {
    next: () => reader.read() as Promise<IteratorResult<ItemOf<AnyEvents>>>,
    return: async () => {
      await reader.cancel();
      return { done: true, value: undefined };
    },
  };
}
