/**
 * Async-iterable sources: what they yield reaches a spec parser in order; a client that does not
 * read holds the generator back; every end of the stream runs the generator's `finally` (or
 * cancels a `ReadableStream`); a source that throws ends the stream with a readable `error` event.
 * The same lifecycle is checked per runtime in test/package (Node, Bun, Deno, workerd).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it, vi } from "vitest";
import { type CloseReason, EventStreamError, eventStream, type ItemOf } from "../../src/sse/index.ts";

const decoder = new TextDecoder();
/** Lets every pending promise and timer of the stream run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

function parse(text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  createParser({ onEvent: (event) => events.push(event) }).feed(text);
  return events;
}

/** An endless generator that counts what it produced and whether its `finally` ran. */
function counting(size = 10) {
  const state = { produced: 0, finished: 0 };
  async function* generate() {
    try {
      for (;;) {
        state.produced++;
        yield { id: state.produced, data: "x".repeat(size) };
      }
    } finally {
      state.finished++;
    }
  }
  return { state, generate };
}

describe("eventStream(async iterable)", () => {
  it("sends what the generator yields, in order, and ends the stream when it returns", async () => {
    type Events = { message: string; tick: { n: number; text: string } };
    let finished = false;
    const onClose = vi.fn<(reason: CloseReason) => void>();
    async function* generate(): AsyncGenerator<ItemOf<Events>> {
      try {
        yield "plain text";
        yield { data: "line one\nline two", id: "a" };
        for (let n = 1; n <= 3; n++) yield { event: "tick", data: { n, text: `tick\n${n}` }, id: n };
      } finally {
        finished = true;
      }
    }
    const text = await eventStream<Events>(generate(), { keepAliveMs: 0, onClose }).text();
    expect(parse(text)).toEqual([
      { data: "plain text", event: undefined, id: undefined },
      { data: "line one\nline two", event: undefined, id: "a" },
      ...[1, 2, 3].map((n) => ({ event: "tick", id: String(n), data: JSON.stringify({ n, text: `tick\n${n}` }) })),
    ]);
    expect(
      parse(text)
        .slice(2)
        .map((event) => JSON.parse(event.data).n),
    ).toEqual([1, 2, 3]);
    expect(finished).toBe(true);
    expect(onClose).toHaveBeenCalledExactlyOnceWith("source-ended");
  });

  it("takes an async generator function, which gets the sink and its signal", async () => {
    let signalAtEnd: AbortSignal | undefined;
    const response = eventStream(async function* (sink) {
      signalAtEnd = sink.signal;
      yield "one";
      yield "two";
    });
    expect(parse(await response.text()).map((event) => event.data)).toEqual(["one", "two"]);
    expect(signalAtEnd?.aborted).toBe(true);
  });

  it("takes a function that resolves to an iterable, as an upstream response's body", async () => {
    const response = eventStream(async () => {
      const upstream = new Response("one\ntwo");
      return upstream.body!.pipeThrough(new TextDecoderStream());
    });
    expect(parse(await response.text()).map((event) => event.data)).toEqual(["one\ntwo"]);
  });

  it("takes a ReadableStream, and cancels it when the client leaves", async () => {
    let cancelled: unknown;
    let pulled = 0;
    const upstream = new ReadableStream<string>({
      pull(controller) {
        pulled++;
        controller.enqueue(`chunk ${pulled}`);
      },
      cancel(reason) {
        cancelled = reason ?? "cancelled";
      },
    });
    const reader = eventStream(upstream, { keepAliveMs: 0 }).body!.getReader();
    let text = "";
    while (parse(text).length < 3) text += decoder.decode((await reader.read()).value);
    expect(
      parse(text)
        .slice(0, 3)
        .map((event) => event.data),
    ).toEqual(["chunk 1", "chunk 2", "chunk 3"]);
    await reader.cancel();
    await settle();
    expect(cancelled).toBeDefined();
  });

  it("runs no further ahead of a client that does not read than the stream's unread limit", async () => {
    const { state, generate } = counting();
    const maxBufferedEvents = 10;
    const onClose = vi.fn();
    const reader = eventStream(generate(), { keepAliveMs: 0, maxBufferedEvents, onClose }).body!.getReader();
    await reader.read(); // the opening comment: the stream has started
    await settle();
    await settle();
    const aheadWhileIdle = state.produced;
    // Queued unread: maxBufferedEvents; plus the one pulled item waiting for room.
    expect(aheadWhileIdle).toBeLessThanOrEqual(maxBufferedEvents + 1);
    await settle();
    expect(state.produced).toBe(aheadWhileIdle);

    // Reading moves it on, and it keeps within the same distance of what was read.
    let read = 0;
    for (let i = 0; i < 50; i++) {
      const { value } = await reader.read();
      read += parse(decoder.decode(value)).length;
      await settle();
      expect(state.produced - read).toBeLessThanOrEqual(maxBufferedEvents + 1);
    }
    expect(state.produced).toBeGreaterThan(aheadWhileIdle + 40);
    expect(onClose).not.toHaveBeenCalled(); // never dropped as too slow: it was held back instead
    await reader.cancel();
    expect(state.finished).toBe(1);
  });

  it.each([
    ["the client cancels the body", "client-cancel"],
    ["the request signal aborts", "request-abort"],
    ["the server shuts the stream down", "shutdown"],
  ] as const)("runs the generator's finally once when %s", async (_, reason) => {
    const { state, generate } = counting();
    const request = new AbortController();
    const onClose = vi.fn<(reason: CloseReason) => void>();
    let sinkShutdown: ((retry: number) => void) | undefined;
    const response = eventStream(
      async function* (sink) {
        sinkShutdown = (retry) => sink.shutdown(retry);
        yield* generate();
      },
      { signal: request.signal, keepAliveMs: 0, maxBufferedEvents: 5, onClose },
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    if (reason === "client-cancel") await reader.cancel();
    else if (reason === "request-abort") request.abort();
    else sinkShutdown!(1000);
    await settle();
    expect(state.finished).toBe(1);
    expect(onClose).toHaveBeenCalledExactlyOnceWith(reason);
    const produced = state.produced;
    await settle();
    expect(state.produced).toBe(produced);
  });

  it("ends a generator waiting on upstream when it listens to the sink's signal", async () => {
    let finished = false;
    const response = eventStream(
      async function* (sink) {
        try {
          yield "first";
          // An upstream request that never answers, made with the stream's signal.
          await new Promise((_, reject) => sink.signal.addEventListener("abort", () => reject(sink.signal.reason)));
          yield "never";
        } finally {
          finished = true;
        }
      },
      { keepAliveMs: 0 },
    );
    const reader = response.body!.getReader();
    let text = "";
    while (!text.includes("first")) text += decoder.decode((await reader.read()).value);
    await reader.cancel();
    await settle();
    expect(finished).toBe(true);
  });

  it("ends the stream with an error event, after what came before, when the iterable throws", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const onClose = vi.fn();
    let finished = false;
    async function* failing() {
      try {
        yield "before";
        throw new Error("upstream said: token sk-secret is invalid");
      } finally {
        finished = true;
      }
    }
    const text = await eventStream(failing(), { keepAliveMs: 0, onClose }).text();
    const events = parse(text);
    expect(events.map((event) => event.event ?? "message")).toEqual(["message", "error"]);
    expect(JSON.parse(events[1]!.data)).toEqual({
      error: { code: "source_failed", message: "the event source failed" },
    });
    expect(text).not.toContain("secret");
    expect(finished).toBe(true);
    expect(onClose).toHaveBeenCalledExactlyOnceWith("source-error");
    expect(error).toHaveBeenCalled(); // the server's log has the real error
    error.mockRestore();
  });

  it("sends the code and message of an EventStreamError, meant for the client", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const text = await eventStream(
      (async function* () {
        yield* [];
        throw new EventStreamError("quota_exceeded", "try again in an hour");
      })(),
    ).text();
    expect(parse(text).map((event) => [event.event, JSON.parse(event.data)])).toEqual([
      ["error", { error: { code: "quota_exceeded", message: "try again in an hour" } }],
    ]);
    error.mockRestore();
  });

  it("treats an item that cannot be encoded as the source's error", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    let finished = false;
    async function* bad() {
      try {
        yield { event: "bad\nid: 1", data: "x" };
      } finally {
        finished = true;
      }
    }
    const text = await eventStream(bad()).text();
    expect(parse(text).map((event) => event.event)).toEqual(["error"]);
    expect(text).not.toContain("id: 1");
    expect(finished).toBe(true);
    error.mockRestore();
  });
});

describe("eventStream(iterable) that never starts", () => {
  it("cancels a ReadableStream source whose client left before the body was read", async () => {
    let cancelled = false;
    const upstream = new ReadableStream<string>({
      cancel() {
        cancelled = true;
      },
    });
    const request = new AbortController();
    const response = eventStream(upstream, { signal: request.signal });
    request.abort();
    await settle();
    expect(cancelled).toBe(true);
    expect(await response.text()).toBe("");
  });
});
