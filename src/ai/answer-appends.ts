/**
 * One answer's appends to its stream, in order, one in flight at a time: whatever the generation
 * yields while an append is on its way goes in the next one, together. The generation never waits
 * for the log, and a log that falls behind (a busy process, Redis under load) gets fewer, larger
 * appends instead of a queue of round trips: at a thousand answers in flight on one Node process
 * on Redis, an append per token left the process too busy to keep the answers' pace
 * (docs/benchmarks-answers.md).
 *
 * The first append the log refuses or fails ends it: nothing more is sent, and `refused` says why.
 * What the log has stored is counted, so that the answer's readers in this process can go on in the
 * log from there (live-answer.ts).
 *
 * On a log where each append is a round trip (Redis), an answer's appends are also spaced: at most one
 * every `spacingMs`, so each carries the several chunks a model yields meanwhile rather than one. The
 * readers in this process are not held by it (they read the chunks live, live-answer.ts); readers
 * elsewhere see them up to `spacingMs` later. At a thousand answers in flight on one Node process an
 * append a token cost as much CPU as the rest of the answer together (docs/benchmarks-answers.md).
 * A fast model still goes at its pace: an append waits for its turn with GATHER_CHUNKS chunks at most.
 *
 * The generation may run ahead of the log by a bounded number of chunks only (answer.ts): when the
 * log falls that far behind, the process is overloaded (on Redis: a machine whose redis-server gets
 * too little CPU to answer), and a generation that went on would only add to it until appends failed.
 */
import type { AppendRequest, AppendResult, StreamLog } from "../hub/log.ts";

export const JSON_CONTENT_TYPE = "application/json";

/** Chunks an append gathers at most while it waits for its turn (half what answer.ts lets wait). */
export const GATHER_CHUNKS = 10;

const utf8 = new TextEncoder();
// Printable ASCII: what JSON text of ASCII is (JSON.stringify escapes control characters).
const ASCII = /^[ -~]*$/;

/**
 * Entries' texts as UTF-8, all in one buffer (each entry a view of its part): one allocation per
 * append rather than one per chunk. Under load an append waits long enough for what it holds to
 * outlive the young generation, and each buffer of its own was freed only by a full collection.
 * Sized exactly, so that a log that keeps the entries (the memory log) keeps no spare bytes.
 */
export function encodeEntries(texts: string[]): Uint8Array[] {
  // ASCII (the usual JSON) is copied as it is; other text is encoded on its own first.
  const parts = texts.map((text) => (ASCII.test(text) ? text : utf8.encode(text)));
  let length = 0;
  for (const part of parts) length += typeof part === "string" ? part.length : part.byteLength;
  const bytes = new Uint8Array(length);
  const entries: Uint8Array[] = [];
  let at = 0;
  for (const part of parts) {
    const start = at;
    if (typeof part === "string") {
      for (let i = 0; i < part.length; i++) bytes[at++] = part.charCodeAt(i);
    } else {
      bytes.set(part, at);
      at += part.byteLength;
    }
    entries.push(bytes.subarray(start, at));
  }
  return entries;
}

/** An append of JSON entries (each one chunk's compact JSON), plain: no `Stream-Seq`, no producer. */
export function jsonAppend(entries: Uint8Array[], close: boolean): AppendRequest {
  return { entries, contentType: JSON_CONTENT_TYPE, close, streamSeq: undefined, producer: undefined };
}

/** Why appends stopped: the log's answer, or what it threw (unreachable). */
export type Refusal = Exclude<AppendResult, { kind: "appended" }> | { kind: "failed"; error: unknown };

export class AnswerAppends {
  /** Chunks stored so far (heartbeats are entries, not chunks). */
  storedChunks = 0;
  /** Entries stored so far: the stream's tail, while nobody else writes to it. */
  storedEntries = 0;
  /** Entries waiting for an append, as JSON text (encoded when sent, see encodeEntries). */
  private pending: string[] = [];
  private pendingChunks = 0;
  private inFlight: Promise<void> | undefined;
  private refusal: Refusal | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  /** Ends the wait for the next append's turn, while there is one. */
  private wake: (() => void) | undefined;
  private closing = false;

  constructor(
    private readonly log: StreamLog,
    private readonly name: string,
    /** Told once, at the first refusal. */
    private readonly onRefused: (refusal: Refusal) => void,
    /** The least time between two appends (ms): 0, each is sent as soon as the last is stored. */
    private readonly spacingMs = 0,
  ) {}

  get refused(): Refusal | undefined {
    return this.refusal;
  }

  /** Chunks waiting for an append (the one in flight not counted). */
  get waitingChunks(): number {
    return this.pendingChunks;
  }

  /** Resolves once what waits has been sent and stored (or refused). */
  async drained(): Promise<void> {
    while (this.inFlight !== undefined) await this.inFlight;
  }

  /** Whether nothing is waiting to be stored. */
  get idle(): boolean {
    return this.inFlight === undefined && this.pending.length === 0;
  }

  /** Queues an entry (a chunk's JSON, or a heartbeat's) and sends it unless an append is in flight. */
  add(entry: string, isChunk: boolean): void {
    if (this.refusal !== undefined) return;
    this.pending.push(entry);
    if (isChunk && ++this.pendingChunks >= GATHER_CHUNKS) this.wake?.();
    this.inFlight ??= this.flush();
  }

  /**
   * Waits for the append in flight, then appends what is queued and `last`, and closes the stream.
   * Undefined once stored; else why not (then nothing more is sent).
   */
  async close(last: string[]): Promise<Refusal | undefined> {
    this.closing = true;
    this.wake?.();
    await this.drained();
    if (this.refusal !== undefined) return this.refusal;
    const entries = this.pending.concat(last);
    const chunks = this.pendingChunks + last.length;
    this.pending = [];
    this.pendingChunks = 0;
    return this.send(entries, chunks, true);
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0 && this.refusal === undefined) {
      await this.turn();
      // Closing: what waits goes with the last chunks, in the closing append.
      if (this.closing) break;
      const entries = this.pending;
      const chunks = this.pendingChunks;
      this.pending = [];
      this.pendingChunks = 0;
      await this.send(entries, chunks, false);
    }
    this.inFlight = undefined;
  }

  /** Resolves when the next append may go: `spacingMs` after the last, or at once if woken. */
  private turn(): Promise<void> | undefined {
    const wait = this.lastSentAt + this.spacingMs - performance.now();
    if (wait <= 0 || this.closing || this.pendingChunks >= GATHER_CHUNKS) return undefined;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), wait);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async send(entries: string[], chunks: number, close: boolean): Promise<Refusal | undefined> {
    this.lastSentAt = performance.now();
    let refusal: Refusal;
    try {
      const result = await this.log.append(this.name, jsonAppend(encodeEntries(entries), close));
      if (result.kind === "appended") {
        this.storedEntries += entries.length;
        this.storedChunks += chunks;
        return undefined;
      }
      refusal = result;
    } catch (error) {
      refusal = { kind: "failed", error };
    }
    if (this.refusal === undefined) {
      this.refusal = refusal;
      this.pending = [];
      this.pendingChunks = 0;
      this.onRefused(refusal);
    }
    return refusal;
  }
}
