/**
 * An answer that outlives its request: a generation's chunks (the AI SDK's UI message chunks, or any
 * JSON values) appended to a durable stream as they come (the next read while the last is appended),
 * and the stream closed when the generation ends. Nothing here waits for a reader: a client that
 * leaves, reloads or never reads changes nothing, and every reader reads the same stream from its
 * first chunk (see answer-response.ts).
 *
 * Built only on the `StreamLog` interface, so it runs on every backend's log. The generation itself
 * runs where `startAnswer` was called, and lives as long as that does: a process; on Workers, a Durable
 * Object rather than a Worker request, which stops when its client leaves (`waitUntil` gives it 30 s
 * more at most; see docs/architecture.md, "Answers on Workers").
 *
 * Ends, each written once to the stream before it closes:
 * - the source ends: the stream closes;
 * - the source throws: an error chunk (`{ type: "error", errorText }`, the AI SDK's shape), then close;
 * - stopped (`stop()`, the `signal` option, `stopAnswer` on any process that shares the log, which asks
 *   the generation over the log, or the stream closed by anyone else): the generation's signal aborts,
 *   the source is cancelled, and an abort chunk (`{ type: "abort" }`) closes the stream unless someone
 *   else already closed it;
 * - the stream deleted or expired under it: the generation stops the same way, and writes nothing.
 *
 * While it runs, a quiet generation writes a heartbeat (`{ type: "edge-sse-heartbeat" }`) every
 * `heartbeatMs`, which readers skip: a reader that hears nothing for several of them knows the
 * process that generated has died (on Redis, readers may be on other processes) and ends with an
 * error chunk instead of waiting forever (answer-response.ts).
 */
import type { LogChange, StreamLog } from "../hub/log.ts";
import { StreamChanges } from "../streams/changes.ts";
import { AnswerAppends, encodeEntries, JSON_CONTENT_TYPE, jsonAppend, type Refusal } from "./answer-appends.ts";
import { holdLive, LiveAnswer, liveAnswerOf } from "./live-answer.ts";

export { JSON_CONTENT_TYPE };

/** What a generation yields: any async iterable or `ReadableStream` of JSON values. */
export type ChunkSource = AsyncIterable<unknown> | ReadableStream<unknown>;

export interface AnswerOptions {
  log: StreamLog;
  /** The durable stream the answer is written to; it must not exist yet. */
  name: string;
  /**
   * The generation: its chunks, or a function that starts it with the signal that stops it, e.g.
   * `(signal) => streamText({ model, messages, abortSignal: signal }).toUIMessageStream()`. Pass a
   * function whenever the generation takes a signal: cancelling a source only stops it reading on.
   */
  source: ChunkSource | ((signal: AbortSignal) => ChunkSource | Promise<ChunkSource>);
  /**
   * The stream's sliding TTL (PROTOCOL.md §5.1): how long after its last read or write it stays
   * readable. While the generation runs, the stream is touched at least every half TTL, so a model
   * that thinks quietly for longer than the TTL does not lose its answer. null: it never expires.
   */
  ttlSeconds?: number | null;
  /** Stops the generation when it aborts. */
  signal?: AbortSignal;
  /**
   * The least time between two of the answer's appends (ms): what the model yields meanwhile goes in
   * one. Readers in this process get every chunk as it comes all the same; readers elsewhere (other
   * processes on Redis) get them up to this much later. Default: the log's `appendSpacingMs` (on
   * Redis 250 ms, see docs/architecture.md), else 0: each append as soon as the last is stored.
   */
  appendSpacingMs?: number;
  /** How often a quiet generation writes a heartbeat (ms). Default HEARTBEAT_MS. */
  heartbeatMs?: number;
}

/** The chunk type of a heartbeat: written by a quiet generation, skipped by every reader. */
export const HEARTBEAT_CHUNK_TYPE = "edge-sse-heartbeat";
/** How often a quiet generation says it is alive. */
export const HEARTBEAT_MS = 5_000;

/** How an answer ended. */
export type AnswerEnd =
  | "finished" // the source ended
  | "failed" // the source threw: the stream ends with an error chunk
  | "stopped" // stopped: the stream ends with an abort chunk (or as whoever closed it left it)
  | "lost"; // the stream was deleted, expired or refused an append (a limit): nothing more was written

export interface Answer {
  readonly name: string;
  /** Aborted when the generation is to stop, for whatever reason. */
  readonly signal: AbortSignal;
  /** Stops the generation; the stream then ends with an abort chunk. Safe to call at any time. */
  stop(reason?: string): void;
  /** Resolves once the stream is closed (or lost) and the source released. Never rejects. */
  readonly ended: Promise<AnswerEnd>;
}

/** Thrown by `startAnswer` when the stream cannot be created (it exists, or the log refused it). */
export class AnswerStartError extends Error {
  constructor(
    readonly reason: "exists" | "refused",
    message: string,
  ) {
    super(message);
    this.name = "AnswerStartError";
  }
}

/**
 * Creates the answer's stream, then runs the generation in the background: the returned promise
 * resolves as soon as the stream exists, so a reader can start at once.
 */
export async function startAnswer(options: AnswerOptions): Promise<Answer> {
  const { log, name } = options;
  const ttlSeconds = options.ttlSeconds ?? null;
  const created = await log.create(name, {
    contentType: JSON_CONTENT_TYPE,
    ttlSeconds,
    expiresAt: null,
    closed: false,
    entries: [],
    fork: null,
  });
  if (created.kind === "exists") throw new AnswerStartError("exists", `the stream ${name} exists already`);
  if (created.kind !== "created") {
    throw new AnswerStartError("refused", `the log refused the stream ${name}: ${created.kind}`);
  }

  const controller = new AbortController();
  const stop = (reason?: string) => {
    if (!controller.signal.aborted) controller.abort(reason ?? "stopped");
  };
  if (options.signal?.aborted) stop(String(options.signal.reason ?? "stopped"));
  options.signal?.addEventListener("abort", () => stop(String(options.signal?.reason ?? "stopped")), { once: true });

  // Live to this process's readers until it has ended; later ones read the log (live-answer.ts).
  let settle: (end: AnswerEnd) => void = () => {};
  const live = new LiveAnswer(stop, new Promise<AnswerEnd>((resolve) => (settle = resolve)));
  const release = holdLive(log, name, live);
  const ended = run(options, controller, ttlSeconds, live).then((end) => {
    release();
    settle(end);
    return end;
  });
  return { name, signal: controller.signal, stop, ended };
}

async function run(
  options: AnswerOptions,
  controller: AbortController,
  ttlSeconds: number | null,
  live: LiveAnswer,
): Promise<AnswerEnd> {
  const { log, name } = options;
  const signal = controller.signal;
  let closing = false; // set before our own close, so that the watcher below tells it from another's
  let closedElsewhere = false;
  let deleted = false;
  // A stop may come from any process that shares the log: it closes (or deletes) the stream, and
  // this watcher hears it (on Redis over pub/sub) and stops the generation at once.
  const stopElsewhere = (wasDeleted: boolean) => {
    if (closing || signal.aborted) return;
    closedElsewhere = true;
    deleted = wasDeleted;
    controller.abort("closed elsewhere");
  };
  const onChange = (change: LogChange) => {
    if (closing) return;
    // Asked from another process (stopAnswer there): a stop like any other, this generation writes
    // what it has and the abort chunk itself.
    if (change.kind === "stop-asked") {
      if (!signal.aborted) controller.abort(change.reason);
      return;
    }
    if (change.kind === "appended" && change.record.closed) stopElsewhere(false);
    // A watch that lost its backend says "deleted" too (on Workers, a stream object it could not reach
    // again: stream-watch.ts): ask the log before giving the answer up. A real deletion is also told
    // by the next append.
    if (change.kind === "deleted") {
      log.head(name).then(
        (found) => {
          if (found.kind !== "found") stopElsewhere(true);
          else if (found.record.closed) stopElsewhere(false);
        },
        () => {},
      );
    }
  };
  // Its end only: on Redis this process then does not hear each of its own appends back.
  const unwatch = log.watch(name, onChange, "ends");
  // The first append the log refuses aborts the generation at once. Closed by someone else between
  // two chunks: a stop; anything else, the stream is gone for us.
  const appends = new AnswerAppends(
    log,
    name,
    (refusal) => {
      if (refusal.kind === "closed") closedElsewhere = true;
      controller.abort(refusal.kind);
    },
    options.appendSpacingMs ?? log.appendSpacingMs,
  );
  // A heartbeat when the model has been quiet for a period: readers elsewhere learn that this
  // process lives, and the write keeps a sliding TTL from running out.
  const heartbeatMs = Math.min(options.heartbeatMs ?? HEARTBEAT_MS, ttlSeconds === null ? Infinity : ttlSeconds * 500);
  let wroteSinceBeat = false;
  const heartbeat = setInterval(() => {
    if (wroteSinceBeat || closing || signal.aborted || !appends.idle) {
      wroteSinceBeat = false;
      return;
    }
    appends.add(HEARTBEAT_ENTRY, false);
  }, heartbeatMs);

  /** Appends the last chunks and closes: the answer's end, told to the readers here once stored. */
  const finish = async (last: unknown[]): Promise<boolean> => {
    closing = true;
    const texts = last.map((chunk) => JSON.stringify(chunk));
    if ((await appends.close(texts)) !== undefined) return false;
    for (const text of texts) live.push(text);
    live.closed();
    return true;
  };

  let chunks: ChunkReader | undefined;
  try {
    const source = typeof options.source === "function" ? await options.source(signal) : options.source;
    chunks = readerOf(source);
    const untilAborted = abortableReads(signal);
    let reading = chunks.next();
    for (;;) {
      const next = await untilAborted(reading);
      if (next === ABORTED) break;
      if (next.done) return (await finish([])) ? "finished" : lostOrStopped(appends.refused);
      // The next chunk is asked for before this one is handed out: the generation's pace is its own.
      // Raced against a stop only once awaited (one race at a time); a failure shows there too.
      reading = chunks.next();
      reading.catch(() => {});
      const text = JSON.stringify(next.value);
      if (text === undefined) continue; // no JSON value: nothing to send
      // Readers here get it now; the log, with the next append.
      live.push(text);
      appends.add(text, true);
      wroteSinceBeat = true;
      // A log this far behind: the model waits for it (answer-appends.ts).
      if (appends.waitingChunks >= MAX_CHUNKS_AHEAD && (await untilAborted(appends.drained())) === ABORTED) break;
    }
    if (closedElsewhere) return deleted ? "lost" : "stopped";
    if (appends.refused !== undefined) return lostOrStopped(appends.refused);
    const reason = typeof signal.reason === "string" ? signal.reason : undefined;
    return (await finish([{ type: "abort", ...(reason ? { reason } : {}) }])) ? "stopped" : "lost";
  } catch (error) {
    controller.abort("failed");
    const errorText = error instanceof Error ? error.message : String(error);
    return (await finish([{ type: "error", errorText }]).catch(() => false)) ? "failed" : "lost";
  } finally {
    unwatch();
    clearInterval(heartbeat);
    if (!controller.signal.aborted) controller.abort("ended");
    // Unless stored and closed above: the readers here go on in the log from what it stored.
    live.handOver(appends.storedChunks, appends.storedEntries);
    // Not awaited: a source that ignores cancellation must not hold the answer's end.
    chunks?.cancel().catch(() => {});
  }
}

/** How an answer whose append was refused ended: closed by someone else is a stop. */
function lostOrStopped(refusal: Refusal | undefined): AnswerEnd {
  return refusal?.kind === "closed" ? "stopped" : "lost";
}

/**
 * How many chunks the generation may yield that wait for an append: one second of a 20 tokens/s
 * model. A log that answers in milliseconds never gets there; at a thousand answers with three
 * readers each on one 2-core machine, Redis answered appends too late (REDIS_TIMEOUT_MS) while the
 * generations went on unhindered, and 149 of them failed (bench:answers, Dec 7 2026).
 */
const MAX_CHUNKS_AHEAD = 20;

const HEARTBEAT_ENTRY = JSON.stringify({ type: HEARTBEAT_CHUNK_TYPE });

interface ChunkReader {
  next(): Promise<IteratorResult<unknown>>;
  cancel(): Promise<unknown>;
}

/**
 * A `ReadableStream` is read with its own reader, not its async iterator: the iterator's `return()`
 * waits for a pending read (WHATWG Streams, ReadableStream async iterator return steps), while
 * `reader.cancel()` cancels at once, so a stop does not wait for the model's next token.
 */
function readerOf(source: ChunkSource): ChunkReader {
  if (typeof (source as ReadableStream).getReader === "function") {
    const reader = (source as ReadableStream<unknown>).getReader();
    return {
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      cancel: () => reader.cancel(),
    };
  }
  const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  return {
    next: () => iterator.next(),
    cancel: async () => iterator.return?.(),
  };
}

const ABORTED = Symbol("aborted");

/**
 * A race of each read against `signal`: `promise`, or ABORTED as soon as `signal` aborts (the
 * promise is then left to settle unread). One abort listener for the whole generation, not one
 * added and removed per chunk: a generation reads once per token. One race at a time: a new one
 * takes the listener over.
 */
function abortableReads(signal: AbortSignal): <T>(promise: Promise<T>) => Promise<T | typeof ABORTED> {
  let onAbort: (() => void) | undefined;
  signal.addEventListener("abort", () => onAbort?.(), { once: true });
  return <T>(promise: Promise<T>) => {
    if (signal.aborted) {
      promise.catch(() => {});
      return Promise.resolve(ABORTED);
    }
    return new Promise<T | typeof ABORTED>((resolve, reject) => {
      onAbort = () => {
        promise.catch(() => {});
        resolve(ABORTED);
      };
      promise.then(resolve, reject);
    });
  };
}

/**
 * How long `stopAnswer` on another process waits for the generation it asked to close the stream
 * before closing it itself: the generation first waits for its append in flight (under load, Redis
 * answered appends in up to a few hundred ms, docs/benchmarks-answers.md).
 */
export const STOP_WAIT_MS = 2_000;

/**
 * Asks the answer's generation, wherever it runs, to stop (on Redis, over the stream's `ends`
 * channel): it then writes the chunks it has not stored yet and the abort chunk itself, so its readers
 * there end as the log does. Closing the stream from here would leave out the chunks its append had not
 * sent yet, which its readers there were sent already (live-answer.ts). True once the stream is closed;
 * false if no generation heard the request (its process died) or it did not close the stream in time.
 */
async function stoppedByWriter(log: StreamLog, name: string, reason: string): Promise<boolean> {
  if ((await log.askWriterToStop?.(name, reason)) === 0) return false;
  // Set before the first look, so that a close after it is heard (the log's watch tells what it
  // finds once it is set up: a close made before then too). It watches the stream's changes, not its
  // end: what `askWriterToStop` counts are the watchers of its end, which must be generations alone,
  // or another stop waiting here would hold a stop of an answer whose process died for STOP_WAIT_MS.
  const changes = new StreamChanges(log, name);
  // Nothing cuts the wait short but its deadline. Made here, not at load: workerd allows no
  // AbortController in a module's global scope.
  const never = new AbortController().signal;
  try {
    const deadline = Date.now() + STOP_WAIT_MS;
    for (let waiting = true; ; ) {
      const found = await log.head(name);
      if (found.kind !== "found") return false;
      if (found.record.closed || !waiting) return found.record.closed;
      waiting = (await changes.next(deadline, never)) !== undefined;
    }
  } finally {
    changes.stop();
  }
}

/** What came of `stopAnswer`. */
export type StopResult = "stopped" | "not-in-flight";

/**
 * Stops the answer `name` wherever it is generated. Generated here: through its generation, which
 * writes the abort chunk and closes the stream itself, so that it stays the only writer of its stream
 * while it runs (what lets its readers here read it as it is generated, live-answer.ts). Anywhere
 * else (another process on the same log): through its generation too, asked over the log
 * (`askWriterToStop`); if none heard it (its process died) or it did not close the stream within
 * STOP_WAIT_MS, by closing the stream with an abort chunk, which a generating process hears and stops on.
 */
export async function stopAnswer(log: StreamLog, name: string, reason = "stopped"): Promise<StopResult> {
  const live = liveAnswerOf(log, name);
  if (live !== undefined) {
    live.stop(reason);
    return (await live.ended) === "stopped" ? "stopped" : "not-in-flight";
  }
  if (log.askWriterToStop !== undefined && (await stoppedByWriter(log, name, reason))) return "stopped";
  const closed = await log.append(name, jsonAppend(encodeEntries([JSON.stringify({ type: "abort", reason })]), true));
  return closed.kind === "appended" && closed.stored ? "stopped" : "not-in-flight";
}
