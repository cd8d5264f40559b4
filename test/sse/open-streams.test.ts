/**
 * Ending every open stream at shutdown: what is queued is delivered first, then a `retry:` and a
 * final comment, then the end, read back with eventsource-parser. The same is exercised against
 * real Node, Bun and Deno servers in test/runtimes/shutdown.test.ts.
 */
import { createParser } from "eventsource-parser";
import { describe, expect, it, vi } from "vitest";
import { type CloseReason, type EventSink, eventStream, OpenStreams } from "../../src/sse/index.ts";

type Item = { data: string } | { retry: number } | { comment: string };

/** Reads the body to its end (after `first`, if it was read already); everything in it, in order. */
async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, first?: Uint8Array): Promise<Item[]> {
  const items: Item[] = [];
  const parser = createParser({
    onEvent: (event) => items.push({ data: event.data }),
    onRetry: (retry) => items.push({ retry }),
    onComment: (comment) => items.push({ comment }),
  });
  const decoder = new TextDecoder();
  if (first) parser.feed(decoder.decode(first, { stream: true }));
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    parser.feed(decoder.decode(chunk.value, { stream: true }));
  }
  return items;
}

/** A tracked stream whose source keeps its sink, started (as a server does) by reading its first chunk. */
async function openStream(openStreams: OpenStreams, options: { maxBufferedBytes?: number } = {}) {
  const state = { sink: undefined as EventSink | undefined, stops: 0, reasons: [] as CloseReason[] };
  const response = eventStream(
    (sink) => {
      state.sink = sink;
      return () => {
        state.stops++;
      };
    },
    { retry: 3000, keepAliveMs: 0, onClose: (reason) => state.reasons.push(reason), openStreams, ...options },
  );
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const { value: first } = await reader.read();
  // The source starts after the opening line, a few microtasks later.
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { state, readAll: () => readAll(reader, first) };
}

const shutdownRetry = { retry: expect.any(Number) };

describe("OpenStreams", () => {
  it("ends every open stream after what was queued, with a retry: and a final comment", async () => {
    const openStreams = new OpenStreams();
    const streams = [await openStream(openStreams), await openStream(openStreams)];
    expect(openStreams.size).toBe(2);
    for (const { state } of streams) {
      state.sink?.send({ data: "one" });
      state.sink?.send({ data: "two" });
    }

    expect(openStreams.shutdown(1_000)).toBe(2);

    for (const { state, readAll } of streams) {
      const items = await readAll();
      expect(items).toEqual([
        { retry: 3000 },
        { data: "one" },
        { data: "two" },
        shutdownRetry,
        { comment: "server shutting down" },
      ]);
      // Spread between 1× and 2×, so clients do not all come back at the same moment.
      const retry = (items[3] as { retry: number }).retry;
      expect(retry).toBeGreaterThanOrEqual(1_000);
      expect(retry).toBeLessThan(2_000);
      expect(state.stops).toBe(1);
      expect(state.reasons).toEqual(["shutdown"]);
      expect(state.sink?.closed).toBe(true);
    }
    expect(openStreams.size).toBe(0);
  });

  it("delivers a nearly full client's queue instead of dropping it as overflow", async () => {
    const openStreams = new OpenStreams();
    const { state, readAll } = await openStream(openStreams, { maxBufferedBytes: 200 });
    // 188 bytes queued of 200: the retry line alone would overflow it through write().
    const data = "x".repeat(180);
    expect(state.sink?.send({ data })).toBe(true);

    openStreams.shutdown();

    expect(await readAll()).toEqual([{ retry: 3000 }, { data }, shutdownRetry, { comment: "server shutting down" }]);
    expect(state.reasons).toEqual(["shutdown"]);
  });

  it("ends a stream that starts after shutdown the same way, without running its source", async () => {
    const openStreams = new OpenStreams();
    let sourceRan = false;
    const reasons: CloseReason[] = [];
    // Made before the shutdown (its request was in flight), read after it.
    const response = eventStream(
      () => {
        sourceRan = true;
      },
      { retry: 3000, onClose: (reason) => reasons.push(reason), openStreams },
    );
    openStreams.shutdown();
    expect(openStreams.shuttingDown).toBe(true);

    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(await readAll(reader)).toEqual([{ retry: 3000 }, shutdownRetry, { comment: "server shutting down" }]);
    expect(sourceRan).toBe(false);
    expect(reasons).toEqual(["shutdown"]);
  });

  it("forgets a stream that ended by itself, so shutdown does not count it", async () => {
    const openStreams = new OpenStreams();
    const { state } = await openStream(openStreams);
    state.sink?.close();
    expect(openStreams.size).toBe(0);
    expect(openStreams.shutdown()).toBe(0);
    expect(state.reasons).toEqual(["source-ended"]);
  });
});

describe("OpenStreams with shared keep-alive timers", () => {
  it("keeps every stream alive from one timer, and drops the timer with the last stream", async () => {
    vi.useFakeTimers();
    try {
      const openStreams = new OpenStreams(undefined, { sharedKeepAliveTimers: true });
      const readers = [0, 1].map(() => {
        const response = eventStream(() => {}, { openStreams, keepAliveMs: 1_000 });
        return (response.body as ReadableStream<Uint8Array>).getReader();
      });
      for (const reader of readers) await reader.read(); // the opening comment starts each stream
      await vi.advanceTimersByTimeAsync(0);
      expect(vi.getTimerCount()).toBe(1);

      await vi.advanceTimersByTimeAsync(1_000);
      for (const reader of readers) {
        const { value } = await reader.read();
        expect(new TextDecoder().decode(value)).toBe(": keep-alive\n\n");
      }

      await readers[0]?.cancel();
      expect(vi.getTimerCount()).toBe(1);
      await readers[1]?.cancel();
      expect(vi.getTimerCount()).toBe(0);
      expect(openStreams.toJSON()).toMatchObject({ activeStreams: 0 });
    } finally {
      vi.useRealTimers();
    }
  });
});
