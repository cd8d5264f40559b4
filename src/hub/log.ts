/**
 * The log: named, append-only streams of entries, each backend's one store. A stream's position is
 * the number of entries before it (0 is the start); the Durable Streams routes (src/streams/) turn
 * positions into the protocol's opaque offsets. An entry is what one append stored: its bytes, or
 * for `application/json` streams its messages, each the compact JSON of one value, joined by commas.
 *
 * Every decision about a request (may it create, append, close; is it a retry) is made by the pure
 * rules in stream-rules.ts over a `StreamRecord`, so every backend answers alike; a backend only
 * keeps records and entries, and applies a decision atomically.
 */
import type { ProducerTuple, ReadPosition, StreamRecord } from "./stream-rules.ts";

export interface CreateRequest {
  /**
   * The stream's media type, lower-cased (`application/json; charset=utf-8` keeps its parameters);
   * null when the request named none: a fork then takes its source's, a new stream
   * `application/octet-stream`.
   */
  contentType: string | null;
  ttlSeconds: number | null;
  /** RFC 3339, as the client sent it. */
  expiresAt: string | null;
  /** Create it closed: the entries are then its whole content. */
  closed: boolean;
  entries: Uint8Array[];
  /** Create it as a fork of another stream (PROTOCOL.md §4.2). */
  fork: ForkRequest | null;
}

export interface ForkRequest {
  /** The source stream's name. */
  from: string;
  /** Inherit the source's entries before this position; null: all of them. */
  position: number | null;
  /**
   * Also inherit this much of the entry at `position`: bytes, or messages of a JSON stream. 0: none.
   */
  subOffset: number;
}

export type CreateResult =
  | { kind: "created"; record: StreamRecord }
  | { kind: "exists"; record: StreamRecord }
  | { kind: "conflict"; message: string }
  | { kind: "fork-source-missing" }
  | { kind: "invalid-fork"; message: string }
  | { kind: "too-large"; message: string };

export interface AppendRequest {
  /** Empty only for a close without data. */
  entries: Uint8Array[];
  /** The request's media type, lower-cased; undefined when it sent none. */
  contentType: string | undefined;
  close: boolean;
  /** `Stream-Seq`: compared byte-wise with the stream's last one. */
  streamSeq: string | undefined;
  producer: ProducerTuple | undefined;
}

export type AppendResult =
  /**
   * Accepted. `stored`: this request wrote data; false for a close without data and for a retry
   * of what an earlier try of the same producer request stored (answered 204, not 200).
   */
  | { kind: "appended"; record: StreamRecord; stored: boolean; producerSeq: number | undefined }
  | { kind: "not-found" }
  | { kind: "gone" }
  | { kind: "closed"; record: StreamRecord }
  | { kind: "content-type-mismatch"; record: StreamRecord }
  | { kind: "stream-seq-conflict"; record: StreamRecord; last: string }
  | { kind: "stale-epoch"; epoch: number }
  | { kind: "epoch-needs-seq-zero" }
  | { kind: "sequence-gap"; expected: number; received: number }
  | { kind: "too-large"; message: string };

export type ReadResult =
  | {
      kind: "found";
      record: StreamRecord;
      /** Entries from the asked position on, at most about the asked bytes (always one if any). */
      entries: Uint8Array[];
      /** The position after the last entry returned. */
      next: number;
    }
  | { kind: "not-found" }
  | { kind: "gone" }
  | { kind: "beyond-tail"; record: StreamRecord }
  /** Retention dropped what was asked for; `oldest` is the first position still kept. */
  | { kind: "trimmed"; record: StreamRecord; oldest: number };

export type DeleteResult = "deleted" | "not-found" | "gone";

export type StreamLookup = { kind: "found"; record: StreamRecord } | { kind: "not-found" } | { kind: "gone" };

/**
 * An answer's appends on Redis, one every quarter second at most (StreamLog.appendSpacingMs): at 20
 * tokens/s, five tokens an append. An append there is a script call with a round trip; one per token
 * took about as much of the server's CPU as the rest of the answer's work together, and at a thousand
 * answers in flight on one process lost edge-sse the latency and memory it has on the memory log
 * (bench:answers, Dec 2026).
 */
export const APPEND_SPACING_MS = 250;

export interface StreamLog {
  /**
   * The least time (ms) that a writer appending as it goes (an answer's generation, answer-appends.ts)
   * should leave between two appends, gathering what comes meanwhile into one: set by a log where each
   * append is a round trip (Redis). Undefined: as soon as the last is stored.
   */
  readonly appendSpacingMs?: number;
  create(name: string, request: CreateRequest): Promise<CreateResult>;
  append(name: string, request: AppendRequest): Promise<AppendResult>;
  /**
   * Entries from `position` on (`"start"`: the oldest kept; `"tail"`: none, from the end). Resets a sliding TTL, as every read
   * and write does (PROTOCOL.md §5.1, `Stream-TTL`).
   */
  read(name: string, position: ReadPosition, maxBytes: number): Promise<ReadResult>;
  /** The stream's record, without resetting its TTL (HEAD). */
  head(name: string): Promise<StreamLookup>;
  delete(name: string): Promise<DeleteResult>;
  /**
   * Calls `listener` after the stream changes, until the returned function is called. A reader
   * that is at `from` may use the appended entries as they come; any other reads again.
   * `"ends"`: the watcher only waits for the stream's end (closed, deleted, or gone as far as it can
   * tell); a log may then spare it the appends (Redis does: an answer's generation watches so).
   */
  watch(name: string, listener: (change: LogChange) => void, interest?: WatchInterest): () => void;
  /**
   * Asks whoever writes the stream and watches its end (an answer's generation, on any process) to
   * stop, with `reason`; resolves to how many watchers were asked (0: none alive to hear it). Only on a
   * log shared by processes (Redis): elsewhere a stream's writer is in the process that asks.
   */
  askWriterToStop?(name: string, reason: string): Promise<number>;
}

/** What a watcher wants to hear of (see StreamLog.watch). */
export type WatchInterest = "changes" | "ends";

/** What changed in a stream, as its watchers are told (on Redis: over pub/sub, from any process). */
export type LogChange =
  /** Entries stored from position `from` on (none: a close without data); `record` as it is now. */
  | { kind: "appended"; from: number; entries: Uint8Array[]; record: StreamRecord }
  | { kind: "created"; record: StreamRecord }
  /** Deleted, expired, or gone as far as this watcher can tell (a lost backend connection). */
  | { kind: "deleted" }
  /** Its writer is asked to stop (`StreamLog.askWriterToStop`): told to watchers of its end only. */
  | { kind: "stop-asked"; reason: string };
