/**
 * startAnswer and answerResponse over the in-memory log: what the stream holds at each end (the
 * source's end, a throw, a stop, a close by someone else), that readers neither hold nor stop the
 * generation, and that every reader gets the chunks from the first, once, then [DONE].
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { GATHER_CHUNKS } from "../../src/ai/answer-appends.ts";
import {
  ANSWER_LOST_ERROR,
  answerResponse,
  DIVERGED_ERROR,
  HEARTBEAT_CHUNK_TYPE,
  PRODUCER_GONE_ERROR,
  startAnswer,
  stopAnswer,
} from "../../src/ai/index.ts";
import type { AppendRequest, StreamLog } from "../../src/hub/log.ts";
import { MemoryLog } from "../../src/hub/memory/memory-log.ts";
import { readEvents } from "../support/sse-reader.ts";

const utf8Decoder = new TextDecoder();

/** Everything the stream holds, and whether it is closed. */
async function contentOf(log: MemoryLog, name: string) {
  const result = await log.read(name, 0, Number.MAX_SAFE_INTEGER);
  if (result.kind !== "found") return { kind: result.kind };
  const chunks = result.entries.flatMap((entry) => JSON.parse(`[${utf8Decoder.decode(entry)}]`) as unknown[]);
  return { chunks, closed: result.record.closed };
}

/** A source that yields one chunk per call of `release` (made before or after it is pulled), and says whether it was cancelled. */
function controlledSource() {
  let waiting: (() => void) | undefined;
  let credits = 0;
  const state = { pulled: 0, cancelled: false };
  const source = new ReadableStream<unknown>({
    async pull(controller) {
      if (credits === 0) await new Promise<void>((resolve) => (waiting = resolve));
      credits--;
      controller.enqueue({ type: "text-delta", id: "t", delta: `${state.pulled++} ` });
    },
    cancel() {
      state.cancelled = true;
    },
  });
  const release = () => {
    credits++;
    const wake = waiting;
    waiting = undefined;
    wake?.();
  };
  return { source, state, release };
}

/** Every `data:` of a response, to its end. */
async function dataOf(response: Response): Promise<string[]> {
  const reader = readEvents(response);
  const data: string[] = [];
  for (;;) {
    const event = await reader.next().catch(() => undefined);
    if (event === undefined) return data;
    data.push(event.data);
  }
}

/**
 * The same log, as another process sees it: a log object of its own (an answer is live only to
 * readers of the log object it is written to), over the same streams.
 */
function elsewhere(log: MemoryLog): StreamLog {
  return {
    create: (name, request) => log.create(name, request),
    append: (name, request) => log.append(name, request),
    read: (name, position, maxBytes) => log.read(name, position, maxBytes),
    head: (name) => log.head(name),
    delete: (name) => log.delete(name),
    watch: (name, listener) => log.watch(name, listener),
  };
}

/** Every append made to `log`, as it was asked for. */
function countAppends(log: MemoryLog): AppendRequest[] {
  const appends: AppendRequest[] = [];
  const append = log.append.bind(log);
  log.append = (name, request) => {
    appends.push(request);
    return append(name, request);
  };
  return appends;
}

/** A log whose answer appends wait for `releaseAppends` (a log slower than the source: Redis), each counted. */
function slowLog() {
  const log = new MemoryLog();
  const held: Array<() => void> = [];
  const appends: AppendRequest[] = [];
  const append = log.append.bind(log);
  // Another process's, whose appends are not held.
  const other: StreamLog = { ...elsewhere(log), append };
  log.append = (name, request) => {
    appends.push(request);
    return new Promise<void>((resolve) => held.push(resolve)).then(() => append(name, request));
  };
  const releaseAppends = async () => {
    for (const resolve of held.splice(0)) resolve();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { log, other, held, appends, releaseAppends };
}

describe("startAnswer", () => {
  it("appends each chunk as it comes and closes the stream at the source's end", async () => {
    const log = new MemoryLog();
    const chunks = [{ type: "start" }, { type: "text-delta", id: "t", delta: "hi" }, { type: "finish" }];
    const answer = await startAnswer({
      log,
      name: "a",
      source: (async function* () {
        yield* chunks;
      })(),
    });
    expect(await answer.ended).toBe("finished");
    expect(await contentOf(log, "a")).toEqual({ chunks, closed: true });
    expect(answer.signal.aborted).toBe(true);
  });

  it("ends a source that throws with the AI SDK's error chunk, then closes", async () => {
    const log = new MemoryLog();
    const answer = await startAnswer({
      log,
      name: "a",
      source: (async function* () {
        yield { type: "start" };
        throw new Error("the model fell over");
      })(),
    });
    expect(await answer.ended).toBe("failed");
    expect(await contentOf(log, "a")).toEqual({
      chunks: [{ type: "start" }, { type: "error", errorText: "the model fell over" }],
      closed: true,
    });
  });

  it("stops on stop(): the generation's signal aborts, the source is cancelled mid-read, an abort chunk closes the stream", async () => {
    const log = new MemoryLog();
    const { source, state, release } = controlledSource();
    let signal: AbortSignal | undefined;
    const answer = await startAnswer({
      log,
      name: "a",
      source: (given) => {
        signal = given;
        return source;
      },
    });
    release();
    await expect.poll(async () => (await contentOf(log, "a")).chunks?.length).toBe(1);
    answer.stop("enough");
    expect(await answer.ended).toBe("stopped");
    expect(signal?.aborted).toBe(true);
    expect(state.cancelled).toBe(true);
    expect(await contentOf(log, "a")).toEqual({
      chunks: [
        { type: "text-delta", id: "t", delta: "0 " },
        { type: "abort", reason: "enough" },
      ],
      closed: true,
    });
  });

  it("stops when its signal option aborts", async () => {
    const log = new MemoryLog();
    const { source, state } = controlledSource();
    const outside = new AbortController();
    const answer = await startAnswer({ log, name: "a", source, signal: outside.signal });
    outside.abort();
    expect(await answer.ended).toBe("stopped");
    expect(state.cancelled).toBe(true);
    expect((await contentOf(log, "a")).closed).toBe(true);
  });

  it("stops when anyone else closes the stream (a stop from another process), and writes nothing after it", async () => {
    const log = new MemoryLog();
    const { source, state, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    const abort = new TextEncoder().encode(JSON.stringify({ type: "abort" }));
    await log.append("a", {
      entries: [abort],
      contentType: "application/json",
      close: true,
      streamSeq: undefined,
      producer: undefined,
    });
    expect(await answer.ended).toBe("stopped");
    release();
    expect(state.cancelled).toBe(true);
    expect(await contentOf(log, "a")).toEqual({ chunks: [{ type: "abort" }], closed: true });
  });

  it("ends as lost when the stream is deleted under it", async () => {
    const log = new MemoryLog();
    const { source, state } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    await log.delete("a");
    expect(await answer.ended).toBe("lost");
    expect(state.cancelled).toBe(true);
    expect(await contentOf(log, "a")).toEqual({ kind: "not-found" });
  });

  it("reads the next chunk while the last one's append is in flight, and stores every chunk in order", async () => {
    const log = new MemoryLog();
    const held: Array<() => void> = [];
    const append = log.append.bind(log);
    // Each append waits for the test: a log slower than the source (on Redis, a round trip each).
    log.append = (name, request) =>
      new Promise<void>((resolve) => held.push(resolve)).then(() => append(name, request));
    let asked = 0;
    const answer = await startAnswer({
      log,
      name: "a",
      source: (async function* () {
        asked++;
        yield { type: "start" };
        asked++;
        yield { type: "finish" };
      })(),
    });
    await vi.waitFor(() => expect(held).toHaveLength(1));
    // The first chunk's append is held, and the source has been asked for the next one.
    await vi.waitFor(() => expect(asked).toBe(2));
    while ((await Promise.race([answer.ended, Promise.resolve("running")])) === "running") {
      for (const resolve of held.splice(0)) resolve();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await answer.ended).toBe("finished");
    expect(await contentOf(log, "a")).toEqual({ chunks: [{ type: "start" }, { type: "finish" }], closed: true });
  });

  it("stops at once when the log refuses a chunk, without waiting for the next one", async () => {
    const log = new MemoryLog({ maxBytes: 100, maxEntries: 0 });
    const answer = await startAnswer({
      log,
      name: "a",
      source: (async function* () {
        yield { type: "text-delta", id: "t", delta: "x".repeat(200) };
        // Nothing more, ever: only the refusal can end the answer.
        await new Promise(() => {});
      })(),
    });
    expect(await answer.ended).toBe("lost");
    expect(answer.signal.reason).toBe("too-large");
    expect(await contentOf(log, "a")).toEqual({ chunks: [], closed: false });
  });

  it("refuses a stream that exists", async () => {
    const log = new MemoryLog();
    await startAnswer({ log, name: "a", source: controlledSource().source });
    await expect(startAnswer({ log, name: "a", source: controlledSource().source })).rejects.toMatchObject({
      name: "AnswerStartError",
      reason: "exists",
    });
  });
});

describe("answerResponse", () => {
  it("gives every reader the chunks from the first, live, then [DONE], in the UI message stream's shape", async () => {
    const log = new MemoryLog();
    const { source, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    release();
    release();
    await expect.poll(async () => (await contentOf(log, "a")).chunks?.length).toBe(2);
    const early = answerResponse({ log, name: "a" });
    expect(early.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    expect(early.headers.get("content-type")).toBe("text/event-stream");
    const earlyData = dataOf(early);
    release();
    await expect.poll(async () => (await contentOf(log, "a")).chunks?.length).toBe(3);
    const late = dataOf(answerResponse({ log, name: "a" }));
    answer.stop();
    const expected = [
      ...[0, 1, 2].map((n) => JSON.stringify({ type: "text-delta", id: "t", delta: `${n} ` })),
      JSON.stringify({ type: "abort", reason: "stopped" }),
      "[DONE]",
    ];
    expect(await earlyData).toEqual(expected);
    expect(await late).toEqual(expected);
  });

  it("ends with an error chunk and [DONE] when the answer vanishes before its end", async () => {
    const log = new MemoryLog();
    await startAnswer({ log, name: "a", source: controlledSource().source });
    const data = dataOf(answerResponse({ log, name: "a" }));
    await log.delete("a");
    expect(await data).toEqual([JSON.stringify({ type: "error", errorText: ANSWER_LOST_ERROR }), "[DONE]"]);
  });

  it("leaves the generation running when a reader leaves", async () => {
    const log = new MemoryLog();
    const { source, state, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    const reader = readEvents(answerResponse({ log, name: "a" }));
    release();
    await reader.next();
    await reader.cancel();
    release();
    await expect.poll(async () => (await contentOf(log, "a")).chunks?.length).toBe(2);
    expect(state.cancelled).toBe(false);
    answer.stop();
    await answer.ended;
  });
});

describe("an answer read in the process that generates it", () => {
  it("gets each chunk before the log has stored it, and [DONE] only once the log has stored the end, as a reader elsewhere does", async () => {
    const { log, other, held, releaseAppends } = slowLog();
    const { source, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    const here = readEvents(answerResponse({ log, name: "a" }));
    release();
    expect((await here.next()).data).toBe(JSON.stringify({ type: "text-delta", id: "t", delta: "0 " }));
    // Received while its append is still held: nothing stored yet.
    expect(held).toHaveLength(1);
    expect((await contentOf(log, "a")).chunks).toEqual([]);
    answer.stop();
    await vi.waitFor(() => expect(held.length).toBeGreaterThan(0));
    // The abort is the generation's, written by it, and the reader gets it with the end once stored.
    const early = await Promise.race([here.next(200).then(() => "event"), answer.ended.then(() => "ended")]).catch(
      () => "nothing yet",
    );
    expect(early).toBe("nothing yet");
    while ((await Promise.race([answer.ended, Promise.resolve("running")])) === "running") await releaseAppends();
    expect(await answer.ended).toBe("stopped");
    expect((await here.next()).data).toBe(JSON.stringify({ type: "abort", reason: "stopped" }));
    expect((await here.next()).data).toBe("[DONE]");
    expect(await dataOf(answerResponse({ log: other, name: "a" }))).toEqual([
      JSON.stringify({ type: "text-delta", id: "t", delta: "0 " }),
      JSON.stringify({ type: "abort", reason: "stopped" }),
      "[DONE]",
    ]);
  });

  it("sends late joiners the chunks so far, then live; every reader here and elsewhere rebuilds the same", async () => {
    const { log, other, releaseAppends } = slowLog();
    const { source, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    release();
    release();
    const first = dataOf(answerResponse({ log, name: "a" }));
    await releaseAppends();
    const late = dataOf(answerResponse({ log, name: "a" }));
    release();
    await releaseAppends();
    const fromLog = dataOf(answerResponse({ log: other, name: "a" }));
    answer.stop();
    while ((await Promise.race([answer.ended, Promise.resolve("running")])) === "running") await releaseAppends();
    const expected = [
      ...[0, 1, 2].map((n) => JSON.stringify({ type: "text-delta", id: "t", delta: `${n} ` })),
      JSON.stringify({ type: "abort", reason: "stopped" }),
      "[DONE]",
    ];
    expect(await first).toEqual(expected);
    expect(await late).toEqual(expected);
    expect(await fromLog).toEqual(expected);
  });

  it("stores what the generation yields while an append is in flight in the next append, together", async () => {
    const { log, appends, releaseAppends } = slowLog();
    const { source, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    release();
    await vi.waitFor(() => expect(appends).toHaveLength(1));
    const here = readEvents(answerResponse({ log, name: "a" }));
    release();
    release();
    release();
    // All three yielded (a reader here has them) while the first append is still held.
    for (let n = 0; n < 4; n++) await here.next();
    expect(appends).toHaveLength(1);
    await releaseAppends();
    await vi.waitFor(() => expect(appends).toHaveLength(2));
    expect(appends.map((request) => request.entries.length)).toEqual([1, 3]);
    answer.stop();
    while ((await Promise.race([answer.ended, Promise.resolve("running")])) === "running") await releaseAppends();
    expect((await contentOf(log, "a")).chunks).toHaveLength(5);
  });

  it("spaces its appends by appendSpacingMs, gathering the chunks that come meanwhile; readers here get each at once, and a stop sends what waits with the end at once", async () => {
    const log = new MemoryLog();
    const appends = countAppends(log);
    const { source, release } = controlledSource();
    // A spacing no test waits for: only the rules below can send an append.
    const answer = await startAnswer({ log, name: "a", source, appendSpacingMs: 60_000 });
    release();
    // The first goes at once: nothing was sent before it.
    await vi.waitFor(() => expect(appends).toHaveLength(1));
    const here = readEvents(answerResponse({ log, name: "a" }));
    expect((await here.next()).data).toContain('"delta":"0 "');
    for (let n = 1; n <= 3; n++) {
      release();
      expect((await here.next()).data).toContain(`"delta":"${n} "`);
    }
    expect(appends).toHaveLength(1);
    answer.stop();
    expect(await answer.ended).toBe("stopped");
    expect(appends.map((request) => [request.entries.length, request.close])).toEqual([
      [1, false],
      [4, true],
    ]);
    expect((await contentOf(log, "a")).chunks).toHaveLength(5);
  });

  it("sends an append before its turn once GATHER_CHUNKS chunks wait: a fast model is not held back by the spacing", async () => {
    const log = new MemoryLog();
    const appends = countAppends(log);
    const tokens = 55;
    async function* fast() {
      for (let n = 0; n < tokens; n++) yield { type: "text-delta", id: "t", delta: `${n} ` };
    }
    const answer = await startAnswer({ log, name: "a", source: fast(), appendSpacingMs: 60_000 });
    expect(await answer.ended).toBe("finished");
    const sizes = appends.map((request) => request.entries.length);
    // The first at once, the last with the end; each between them because GATHER_CHUNKS waited.
    expect(sizes.length).toBeGreaterThan(2);
    for (const size of sizes.slice(1, -1)) expect(size).toBeGreaterThanOrEqual(GATHER_CHUNKS);
    const stored = (await contentOf(log, "a")).chunks as { delta: string }[];
    expect(stored.map((chunk) => chunk.delta)).toEqual(Array.from({ length: tokens }, (_, n) => `${n} `));
  });

  it("encodes an append's chunks into one buffer, each entry exactly its chunk's UTF-8 (any text)", async () => {
    const { log, appends, releaseAppends } = slowLog();
    const deltas = ["a ", "é ", "👋 ", "\u2028 ", "日本 ", "lone \ud800 "];
    async function* source() {
      for (const delta of deltas) yield { type: "text-delta", id: "t", delta };
    }
    const answer = await startAnswer({ log, name: "u", source: source() });
    while ((await Promise.race([answer.ended, Promise.resolve("running")])) === "running") await releaseAppends();
    expect(await answer.ended).toBe("finished");
    const batched = appends.find((request) => request.entries.length > 1);
    expect(batched).toBeDefined();
    const entries = batched?.entries ?? [];
    expect(new Set(entries.map((entry) => entry.buffer)).size).toBe(1);
    expect(entries.reduce((sum, entry) => sum + entry.byteLength, 0)).toBe(entries[0]?.buffer.byteLength);
    const stored = (await contentOf(log, "u")).chunks as { type: string; delta?: string }[];
    // A lone surrogate too: JSON.stringify writes it as an escape, so the text is ASCII there.
    expect(stored.filter((chunk) => chunk.type === "text-delta").map((chunk) => chunk.delta)).toEqual(deltas);
  });

  it("holds the model back once the log is 20 chunks behind, and lets it go on as the log catches up", async () => {
    const { log, releaseAppends } = slowLog();
    let asked = 0;
    const answer = await startAnswer({
      log,
      name: "a",
      source: (async function* () {
        for (;;) {
          asked++;
          yield { type: "text-delta", id: "t", delta: "x" };
        }
      })(),
    });
    // One chunk in the held append, twenty waiting, one asked for ahead: then the model waits.
    await vi.waitFor(() => expect(asked).toBe(22));
    // The model and the generation go on in microtasks alone: one turn of the event loop runs them all
    // (a generation that was not held would never let it come).
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked).toBe(22);
    // The held append, then the twenty together: stored, and the model is asked again.
    await vi.waitFor(async () => {
      await releaseAppends();
      expect(asked).toBeGreaterThan(22);
    });
    answer.stop();
    while ((await Promise.race([answer.ended, Promise.resolve("running")])) === "running") await releaseAppends();
    expect(await answer.ended).toBe("stopped");
  });

  it("stops at once after it waited for its log, while the model is quiet", async () => {
    const { log, held, releaseAppends } = slowLog();
    const answer = await startAnswer({
      log,
      name: "a",
      source: (async function* () {
        // One for the first append, twenty to wait behind it: the model is then held back, with
        // its next read already asked for.
        for (let n = 0; n < 21; n++) yield { type: "text-delta", id: "t", delta: "x" };
        // Then nothing, ever: only a stop can end the answer.
        await new Promise(() => {});
      })(),
    });
    await vi.waitFor(() => expect(held).toHaveLength(1));
    // Held back at twenty waiting chunks; let the log catch up, so the model is read again.
    await vi.waitFor(async () => {
      await releaseAppends();
      expect((await contentOf(log, "a")).chunks).toHaveLength(21);
    });
    answer.stop();
    while ((await Promise.race([answer.ended, Promise.resolve("running")])) === "running") await releaseAppends();
    expect(await answer.ended).toBe("stopped");
  });

  it("stops through its generation (stopAnswer here), and by closing the stream from anywhere else", async () => {
    const log = new MemoryLog();
    const local = await startAnswer({ log, name: "here", source: controlledSource().source });
    expect(await stopAnswer(log, "here", "enough")).toBe("stopped");
    expect(await local.ended).toBe("stopped");
    expect(await contentOf(log, "here")).toEqual({ chunks: [{ type: "abort", reason: "enough" }], closed: true });
    expect(await stopAnswer(log, "here")).toBe("not-in-flight");

    const remote = await startAnswer({ log, name: "there", source: controlledSource().source });
    expect(await stopAnswer(elsewhere(log), "there")).toBe("stopped");
    expect(await remote.ended).toBe("stopped");
    expect(await contentOf(log, "there")).toEqual({ chunks: [{ type: "abort", reason: "stopped" }], closed: true });
    expect(await stopAnswer(log, "missing")).toBe("not-in-flight");
  });

  it("a stream closed elsewhere while a chunk was on its way: a reader here that was sent it ends with an error and no [DONE], one that was not goes on in the log", async () => {
    const { log, other, held, releaseAppends } = slowLog();
    const { source, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a", source });
    release();
    await vi.waitFor(() => expect(held).toHaveLength(1));
    await releaseAppends(); // chunk 0 stored
    await vi.waitFor(async () => expect((await contentOf(log, "a")).chunks).toHaveLength(1));
    release(); // chunk 1: sent to readers here, its append held
    await vi.waitFor(() => expect(held).toHaveLength(1));
    const ahead = readEvents(answerResponse({ log, name: "a" }));
    expect((await ahead.next()).data).toContain('"0 "');
    expect((await ahead.next()).data).toContain('"1 "');
    // Another process stops it: the close lands before chunk 1.
    expect(await stopAnswer(other, "a")).toBe("stopped");
    await releaseAppends();
    expect(await answer.ended).toBe("stopped");
    expect((await ahead.next()).data).toBe(JSON.stringify({ type: "error", errorText: DIVERGED_ERROR }));
    await expect(ahead.next()).rejects.toThrow("stream ended");
    // The log's answer, which every reader from now on gets.
    const expected = [
      JSON.stringify({ type: "text-delta", id: "t", delta: "0 " }),
      JSON.stringify({ type: "abort", reason: "stopped" }),
      "[DONE]",
    ];
    expect(await dataOf(answerResponse({ log, name: "a" }))).toEqual(expected);
    expect(await dataOf(answerResponse({ log: other, name: "a" }))).toEqual(expected);
  });
});

/** Everything a response's body says, as it comes. */
function bodyText(response: Response) {
  const decoder = new TextDecoder();
  const received = { text: "" };
  void (async () => {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      received.text += decoder.decode(value, { stream: true });
    }
  })();
  return received;
}

describe("an answer whose producer is gone", () => {
  it("keeps a reader waiting while the generation beats, and ends it with an error once it is silent", async () => {
    // The clock is the test's: heartbeats and silences come when it says, however loaded the machine.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const log = new MemoryLog();
    // A generation that thinks for ever, quietly: only its heartbeats are written.
    const answer = await startAnswer({
      log,
      name: "thinking",
      heartbeatMs: 1_000,
      source: (signal) =>
        new ReadableStream({
          pull: () => new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve())),
        }),
    });
    const alive = bodyText(answerResponse({ log, name: "thinking", producerTimeoutMs: 3_000 }));
    await vi.advanceTimersByTimeAsync(20_000);
    expect((await contentOf(log, "thinking")).chunks).toContainEqual({ type: HEARTBEAT_CHUNK_TYPE });
    expect(alive.text).not.toContain("error"); // heartbeats are skipped, and they keep the reader waiting
    answer.stop();
    await answer.ended;
    await vi.advanceTimersByTimeAsync(0);
    expect(alive.text).toContain('"type":"abort"');
    expect(alive.text).toContain("[DONE]");

    // A stream left open by a process that died: nobody writes to it any more.
    await log.create("orphan", {
      contentType: "application/json",
      ttlSeconds: null,
      expiresAt: null,
      closed: false,
      entries: [new TextEncoder().encode('{"type":"start"}')],
      fork: null,
    });
    const orphaned = bodyText(answerResponse({ log, name: "orphan", producerTimeoutMs: 3_000 }));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(orphaned.text).not.toContain(PRODUCER_GONE_ERROR);
    await vi.advanceTimersByTimeAsync(1);
    expect(orphaned.text).toContain(PRODUCER_GONE_ERROR);
    expect(orphaned.text).toContain("[DONE]");
  });

  it("goes on to its end when its watch says the stream is gone while the log still has it (a watch that lost its backend)", async () => {
    const log = new MemoryLog();
    const listeners: ((change: { kind: "deleted" }) => void)[] = [];
    const watch = log.watch.bind(log);
    vi.spyOn(log, "watch").mockImplementation((name, listener) => {
      listeners.push(listener as (change: { kind: "deleted" }) => void);
      return watch(name, listener);
    });
    const { source, release } = controlledSource();
    const answer = await startAnswer({ log, name: "a/watch-lost", source });
    release();
    for (const listener of listeners) listener({ kind: "deleted" });
    // The memory log answers the generation's look in microtasks: one turn of the event loop runs them.
    await new Promise((resolve) => setImmediate(resolve));
    expect(answer.signal.aborted).toBe(false);
    release();
    await vi.waitFor(async () => expect((await contentOf(log, "a/watch-lost")).chunks).toHaveLength(2));
    answer.stop();
    expect(await answer.ended).toBe("stopped");
  });
  it("sends each chunk of an entry that holds several (an array appended at once) as an event of its own, skips its heartbeats, and gives every reader the same", async () => {
    const log = new MemoryLog();
    const utf8 = new TextEncoder();
    await log.create("several", {
      contentType: "application/json",
      ttlSeconds: null,
      expiresAt: null,
      closed: true,
      // As the protocol's routes store `[a, b, c]`: one entry, the compact messages joined by commas.
      entries: [
        utf8.encode('{"type":"start"}'),
        utf8.encode(
          `{"type":"text-delta","id":"t","delta":"a, b"},{"type":"${HEARTBEAT_CHUNK_TYPE}"},{"type":"text-delta","id":"t","delta":"}"}`,
        ),
        utf8.encode(`{"type":"${HEARTBEAT_CHUNK_TYPE}"}`),
        utf8.encode('{"type":"finish"}'),
      ],
      fork: null,
    });
    const expected = [
      '{"type":"start"}',
      '{"type":"text-delta","id":"t","delta":"a, b"}',
      '{"type":"text-delta","id":"t","delta":"}"}',
      '{"type":"finish"}',
      "[DONE]",
    ];
    const [first, second] = await Promise.all([
      dataOf(answerResponse({ log, name: "several" })),
      dataOf(answerResponse({ log, name: "several" })),
    ]);
    expect(first).toEqual(expected);
    expect(second).toEqual(expected);
  });
});
