/**
 * edge-sse/client against a scripted fetch: what it sends on each attempt, when it retries and when
 * it stops for good, and that its callbacks fire once. Waits are on vitest's fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelay, type CloseReason, connectEventStream } from "../../src/client/index.ts";

/** A text/event-stream response whose body is `chunks`, then the end (or held open). */
function sse(chunks: string[], { hold = false } = {}): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!hold) controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

interface Attempt {
  url: string;
  headers: Headers;
  method: string;
}

/** A fetch that answers each attempt with the next of `answers`, and records what it was sent. */
function scriptedFetch(answers: (() => Response)[]) {
  const attempts: Attempt[] = [];
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    attempts.push({ url: String(url), headers: new Headers(init?.headers), method: init?.method ?? "GET" });
    const answer = answers.shift();
    if (answer === undefined) return new Promise<Response>(() => {}); // hangs: no more script
    return answer();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, attempts };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
async function settle() {
  for (let i = 0; i < 20; i++) await tick();
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("connectEventStream", () => {
  it("calls the headers and url functions before every attempt, and resumes with the last id", async () => {
    const { fetch, attempts } = scriptedFetch([
      () => sse(['retry: 100\n\nid: 1\ndata: {"n":1}\n\n']),
      () => sse(["id: 2\ndata: two\n\n"], { hold: true }),
    ]);
    let token = 0;
    const received: unknown[] = [];
    const stream = connectEventStream<{ message: { n: number } | string }>({
      url: () => `https://example.test/feed?v=${token}`,
      headers: () => ({ authorization: `Bearer t${++token}` }),
      fetch,
    });
    stream.on("message", ({ data, id }) => received.push([id, data]));
    await settle();
    vi.advanceTimersByTime(100); // the server's retry: is the ceiling of the (jittered) wait
    await settle();
    expect(attempts.map((attempt) => attempt.headers.get("authorization"))).toEqual(["Bearer t1", "Bearer t2"]);
    expect(attempts.map((attempt) => attempt.url)).toEqual([
      "https://example.test/feed?v=0",
      "https://example.test/feed?v=1",
    ]);
    expect(attempts[0]?.headers.get("last-event-id")).toBeNull();
    expect(attempts[1]?.headers.get("last-event-id")).toBe("1");
    expect(received).toEqual([
      ["1", { n: 1 }],
      ["2", "two"],
    ]);
    expect(stream.lastEventId).toBe("2");
    stream.close();
  });

  it("waits longer after each failure, up to the ceiling, and at random below it", () => {
    const ceilings = [0, 1, 2, 3, 10].map((attempt) => backoffDelay(attempt, 1000, 30_000, () => 0.999999));
    expect(ceilings).toEqual([999, 1999, 3999, 7999, 29_999]);
    const draws = [0.1, 0.5, 0.9].map((r) => backoffDelay(3, 1000, 30_000, () => r));
    expect(draws).toEqual([800, 4000, 7200]);
  });

  it("retries a 503 after its Retry-After, and a network error after a backoff", async () => {
    const { fetch, attempts } = scriptedFetch([
      () => new Response("busy", { status: 503, headers: { "retry-after": "7" } }),
      () => {
        throw new TypeError("fetch failed");
      },
      () => sse([], { hold: true }),
    ]);
    const errors: unknown[] = [];
    const stream = connectEventStream({ url: "https://example.test/feed", fetch, onError: (e) => errors.push(e) });
    await settle();
    expect(attempts).toHaveLength(1);
    vi.advanceTimersByTime(6_999);
    await settle();
    expect(attempts).toHaveLength(1);
    vi.advanceTimersByTime(1);
    await settle();
    expect(attempts).toHaveLength(2);
    vi.advanceTimersByTime(2_000); // attempt 1's ceiling: 2 s
    await settle();
    expect(attempts).toHaveLength(3);
    expect(errors).toHaveLength(2);
    stream.close();
  });

  it.each([
    [204, { kind: "no-content" }],
    [401, { kind: "refused", status: 401 }],
    [403, { kind: "refused", status: 403 }],
    [404, { kind: "refused", status: 404 }],
  ])("stops for good on %i and says why, once", async (status, reason) => {
    const { fetch, attempts } = scriptedFetch([() => new Response(status === 204 ? null : "no", { status })]);
    const closes: CloseReason[] = [];
    const stream = connectEventStream({ url: "https://example.test/feed", fetch, onClose: (r) => closes.push(r) });
    await settle();
    vi.advanceTimersByTime(60_000);
    await settle();
    stream.close();
    expect(attempts).toHaveLength(1);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject(reason);
    expect(stream.closed).toBe(true);
  });

  it("closes once on abort, and on close() after it, and aborts the connection", async () => {
    let requestSignal: AbortSignal | undefined;
    const fetch = (async (_url: string, init?: RequestInit) => {
      requestSignal = init?.signal ?? undefined;
      return sse([], { hold: true });
    }) as unknown as typeof globalThis.fetch;
    const controller = new AbortController();
    const opened = vi.fn();
    const closed = vi.fn();
    const stream = connectEventStream({ url: "x", fetch, signal: controller.signal, onOpen: opened, onClose: closed });
    await settle();
    expect(opened).toHaveBeenCalledTimes(1);
    controller.abort();
    stream.close();
    await settle();
    expect(closed).toHaveBeenCalledTimes(1);
    expect(closed).toHaveBeenCalledWith({ kind: "closed" });
    expect(requestSignal?.aborted).toBe(true);
  });

  it("sends any method and body, with accept: text/event-stream", async () => {
    const { fetch, attempts } = scriptedFetch([() => sse([], { hold: true })]);
    const stream = connectEventStream({ url: "x", method: "POST", body: "{}", fetch });
    await settle();
    expect(attempts[0]?.method).toBe("POST");
    expect(attempts[0]?.headers.get("accept")).toBe("text/event-stream");
    stream.close();
  });
});
