/**
 * The stream lifecycle: every way a stream can end runs the source's stop exactly once.
 * The same triggers are exercised against real servers in test/runtimes and test/workers.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it, vi } from "vitest";
import { type CloseReason, type EventSink, eventStream, takeOver } from "../../src/sse/index.ts";

/** A source that records its sink and how often it was stopped. */
function recordingSource() {
  const state = { sink: undefined as EventSink | undefined, stops: 0 };
  const source = (sink: EventSink) => {
    state.sink = sink;
    return () => {
      state.stops++;
    };
  };
  return { state, source };
}

async function readText(response: Response, bytes: number): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (text.length < bytes) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
const decoder = new TextDecoder();

/**
 * Reads the first chunk, as a server does to send the response: that starts the stream (nothing
 * runs before). Returns the reader, still locked, and what the first chunk said.
 */
async function start(response: Response) {
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  return { reader, first: decoder.decode(value) };
}

/** Everything the reader still gets until the body ends. */
async function rest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text;
}

describe("eventStream", () => {
  it("answers with the SSE headers and no hop-by-hop headers", () => {
    const response = eventStream(() => {});
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(response.headers.get("connection")).toBeNull();
    expect(response.headers.get("transfer-encoding")).toBeNull();
  });

  it("writes the retry hint first, then the source's events", async () => {
    const response = eventStream(
      (sink) => {
        sink.send({ id: 1, data: "hello" });
      },
      { retry: 1500, keepAliveMs: 0 },
    );
    const events: EventSourceMessage[] = [];
    const retries: number[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event), onRetry: (ms) => retries.push(ms) });
    parser.feed(await readText(response, 30));
    expect(retries).toEqual([1500]);
    expect(events).toEqual([{ id: "1", data: "hello", event: undefined }]);
  });

  it("starts nothing until the body is read", async () => {
    const { state, source } = recordingSource();
    const response = eventStream(source);
    await settle();
    expect(state.sink).toBeUndefined();
    const { reader, first } = await start(response);
    expect(first).toBe(":\n\n");
    expect(state.sink).toBeDefined();
    await reader.cancel();
  });

  it("stops the source once when the client cancels the body", async () => {
    const { state, source } = recordingSource();
    const onClose = vi.fn<(reason: CloseReason) => void>();
    const { reader } = await start(eventStream(source, { onClose }));
    await reader.cancel();
    await reader.cancel().catch(() => {});
    expect(state.stops).toBe(1);
    expect(onClose).toHaveBeenCalledExactlyOnceWith("client-cancel");
    expect(state.sink!.closed).toBe(true);
    expect(state.sink!.signal.aborted).toBe(true);
    expect(state.sink!.send({ data: "late" })).toBe(false);
  });

  it("stops the source once when the request signal aborts, even if cancel follows", async () => {
    const { state, source } = recordingSource();
    const request = new AbortController();
    const onClose = vi.fn<(reason: CloseReason) => void>();
    const { reader } = await start(eventStream(source, { signal: request.signal, onClose }));
    request.abort();
    await reader.cancel();
    expect(state.stops).toBe(1);
    expect(onClose).toHaveBeenCalledExactlyOnceWith("request-abort");
  });

  it("never starts a stream whose request was already aborted", async () => {
    const { state, source } = recordingSource();
    const onClose = vi.fn();
    const response = eventStream(source, { signal: AbortSignal.abort(), onClose });
    expect(onClose).toHaveBeenCalledExactlyOnceWith("request-abort");
    expect(await response.text()).toBe("");
    expect(state.sink).toBeUndefined();
  });

  it("ends a stream whose client leaves before its body is read, without starting it", async () => {
    const { state, source } = recordingSource();
    const request = new AbortController();
    const onClose = vi.fn();
    const response = eventStream(source, { signal: request.signal, onClose });
    request.abort();
    expect(onClose).toHaveBeenCalledExactlyOnceWith("request-abort");
    expect(await response.text()).toBe("");
    expect(state.sink).toBeUndefined();
  });

  it("ends the body when the source closes, after what it wrote", async () => {
    const { state, source } = recordingSource();
    const { reader, first } = await start(eventStream(source, { keepAliveMs: 0 }));
    state.sink!.send({ data: "bye" });
    state.sink!.close();
    expect(first + (await rest(reader))).toBe(":\n\ndata:bye\n\n");
    expect(state.stops).toBe(1);
  });

  it("stops a source whose stop function arrives after the stream ended", async () => {
    let stops = 0;
    const request = new AbortController();
    const response = eventStream(
      async () => {
        await settle();
        return () => {
          stops++;
        };
      },
      { signal: request.signal },
    );
    await start(response);
    request.abort();
    await settle();
    await settle();
    expect(stops).toBe(1);
  });

  it("ends the body with an error event that tells nothing of the error when the source throws", async () => {
    const onClose = vi.fn();
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const response = eventStream(
      () => {
        throw new Error("boom: secret");
      },
      { onClose },
    );
    const text = await response.text();
    expect(text).toContain(
      'event: error\ndata:{"error":{"code":"source_failed","message":"the event source failed"}}\n\n',
    );
    expect(text).not.toContain("secret");
    expect(onClose).toHaveBeenCalledExactlyOnceWith("source-error");
    error.mockRestore();
  });

  it("drops a client that leaves more than the buffer limit unread, and frees what was queued", async () => {
    const { state, source } = recordingSource();
    const onClose = vi.fn();
    const { reader } = await start(eventStream(source, { maxBufferedBytes: 1000, keepAliveMs: 0, onClose }));
    let accepted = 0;
    while (state.sink!.send({ data: "x".repeat(100) })) accepted++;
    expect(accepted).toBeGreaterThan(5);
    expect(accepted).toBeLessThan(10);
    expect(onClose).toHaveBeenCalledExactlyOnceWith("overflow");
    expect(state.stops).toBe(1);
    await expect(reader.read()).rejects.toThrow(/unread/);
  });

  it("keeps a reading client however much is sent", async () => {
    const { state, source } = recordingSource();
    const { reader } = await start(eventStream(source, { maxBufferedBytes: 1000, keepAliveMs: 0 }));
    for (let i = 0; i < 100; i++) {
      expect(state.sink!.send({ data: "x".repeat(100) })).toBe(true);
      await reader.read();
    }
    expect(state.sink!.closed).toBe(false);
    await reader.cancel();
  });

  it("asks the transport what is queued only when its last answer leaves no room, and sees the client's reads then", () => {
    const { state, source } = recordingSource();
    const stream = takeOver(eventStream(source, { maxBufferedBytes: 1000, maxBufferedEvents: 100, keepAliveMs: 0 }));
    let held = 0;
    let asked = 0;
    stream!.start({
      write: (chunk) => (held += chunk.byteLength),
      queued: () => {
        asked++;
        return held;
      },
      end() {},
      abort() {},
    });
    const sink = state.sink!;
    const chunk = new Uint8Array(300);
    expect(sink.fits(chunk)).toBe(true);
    expect(sink.write(chunk) && sink.write(chunk)).toBe(true);
    expect(sink.fits(chunk)).toBe(true); // about 600 held: room for 300 more
    expect(asked).toBe(0);
    expect(sink.write(chunk)).toBe(true);
    expect(sink.fits(chunk)).toBe(false); // about 900 held, asked and still so
    expect(asked).toBe(1);
    held = 0; // the client read everything
    expect(sink.fits(chunk)).toBe(true);
    expect(sink.fits(chunk)).toBe(true);
    expect(asked).toBe(2);
    expect(sink.fits(new Uint8Array(1001))).toBe(false);
  });

  it("writes a keep-alive comment on the configured interval", async () => {
    vi.useFakeTimers();
    try {
      const { reader, first } = await start(eventStream(() => {}, { keepAliveMs: 1000 }));
      expect(first).toBe(":\n\n");
      await vi.advanceTimersByTimeAsync(1000);
      expect(decoder.decode((await reader.read()).value)).toBe(": keep-alive\n\n");
      await reader.cancel();
    } finally {
      vi.useRealTimers();
    }
  });

  it("follows each keep-alive with an empty line when it listens to a request signal, which no parser dispatches", async () => {
    vi.useFakeTimers();
    try {
      const request = new AbortController();
      const onClose = vi.fn();
      const stream = eventStream(() => {}, {
        keepAliveMs: 1000,
        departureProbeMs: 100,
        signal: request.signal,
        onClose,
      });
      const { reader, first } = await start(stream);
      const events: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (event) => events.push(event) });
      parser.feed(first);
      await vi.advanceTimersByTimeAsync(1000);
      const keepAlive = decoder.decode((await reader.read()).value);
      expect(keepAlive).toBe(": keep-alive\n\n");
      await vi.advanceTimersByTimeAsync(99);
      await vi.advanceTimersByTimeAsync(1);
      const probe = decoder.decode((await reader.read()).value);
      expect(probe).toBe("\n");
      parser.feed(keepAlive + probe);
      expect(events).toEqual([]);
      // The probe is what makes workerd abort the signal when the client is gone: the stream ends on it.
      request.abort();
      expect(onClose).toHaveBeenCalledExactlyOnceWith("request-abort");
      await vi.advanceTimersByTimeAsync(5000);
      expect((await reader.read()).done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("writes no probe without a request signal (Node, Bun, Deno: cancel tells them), nor with departureProbeMs 0", async () => {
    vi.useFakeTimers();
    try {
      for (const options of [{}, { signal: new AbortController().signal, departureProbeMs: 0 }]) {
        const { reader } = await start(eventStream(() => {}, { keepAliveMs: 1000, ...options }));
        await vi.advanceTimersByTimeAsync(1000);
        expect(decoder.decode((await reader.read()).value)).toBe(": keep-alive\n\n");
        await vi.advanceTimersByTimeAsync(999);
        await vi.advanceTimersByTimeAsync(1);
        expect(decoder.decode((await reader.read()).value)).toBe(": keep-alive\n\n");
        await reader.cancel();
      }
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("eventStream stall detection", () => {
  it("drops a client that reads nothing for two keep-alive periods while data waits", async () => {
    vi.useFakeTimers();
    try {
      const { state, source } = recordingSource();
      const onClose = vi.fn();
      const { reader } = await start(eventStream(source, { keepAliveMs: 1000, onClose }));
      state.sink!.send({ data: "never read" });
      await vi.advanceTimersByTimeAsync(3000);
      expect(onClose).toHaveBeenCalledExactlyOnceWith("stalled");
      await expect(reader.read()).rejects.toThrow(/read nothing/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps a client that reads, however slowly, and an idle one with nothing pending", async () => {
    vi.useFakeTimers();
    try {
      const { state, source } = recordingSource();
      const onClose = vi.fn();
      const { reader } = await start(eventStream(source, { keepAliveMs: 1000, onClose }));
      for (let i = 0; i < 10; i++) {
        state.sink!.send({ data: `event ${i}` });
        state.sink!.send({ data: `event ${i} again` });
        await vi.advanceTimersByTimeAsync(1000);
        await reader.read(); // one chunk per period: slower than they are written
      }
      expect(onClose).not.toHaveBeenCalled();
      await reader.cancel();
    } finally {
      vi.useRealTimers();
    }
  });
});
