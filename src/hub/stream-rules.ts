/**
 * What a stream is (`StreamRecord`: plain JSON, so every backend can keep it as it is) and the rules
 * of the Durable Streams protocol over it (PROTOCOL.md §4, §5.1–5.4): create or confirm, append with
 * `Stream-Seq` and idempotent producers, close, expire. Pure functions of a record and a request, so
 * the in-memory log, Redis and the Durable Object decide alike and only apply the outcome.
 */
import type { AppendRequest, AppendResult, CreateRequest, CreateResult, ForkRequest } from "./log.ts";

/** A producer's last accepted request on one stream (PROTOCOL.md §5.2.1). */
export interface ProducerState {
  epoch: number;
  seq: number;
}

export interface ProducerTuple extends ProducerState {
  id: string;
}

export interface StreamRecord {
  /** Unique per creation: a stream deleted and created again gets a new one (ETags carry it). */
  instance: string;
  contentType: string;
  ttlSeconds: number | null;
  expiresAt: string | null;
  /** Last read or write (ms since the epoch), from which a sliding TTL counts. */
  touchedAt: number;
  closed: boolean;
  /** Entries appended so far: the position of the end (the tail). */
  tail: number;
  /** Entries before this position were dropped by retention (a channel's history limit). */
  head: number;
  /**
   * Retention: only the newest this many entries are kept, older ones are dropped as new ones come
   * (a channel's HISTORY_LIMIT). Null or absent (records stored before it): all are kept.
   */
  retention?: number | null;
  /** Bytes of the entries kept. */
  bytes: number;
  streamSeq: string | null;
  producers: Record<string, ProducerState>;
  /** The producer request that closed the stream, so that its retry is answered as a duplicate. */
  closedBy: ProducerTuple | null;
  /**
   * How it was forked, compared when the same fork is asked for again; `source` is the source's
   * `instance`, so a fork never counts against a later stream of the same name.
   */
  fork: { from: string; source: string; position: number; subOffset: number } | null;
  /** Forks made from it and not yet deleted: while any lives, a deletion only marks it gone. */
  forks: number;
  /** Deleted while forks of it lived: every request to it answers 410 (PROTOCOL.md §5.4). */
  deleted: boolean;
}

/** The first position retention keeps, once the stream ends at `tail` (see `StreamRecord.retention`). */
export function retainedHead(record: StreamRecord): number {
  const retention = record.retention ?? null;
  return retention === null ? record.head : Math.max(record.head, record.tail - retention);
}

/**
 * A channel's stream (see channel-log.ts): JSON, keeping its newest `retention` events, never
 * expiring, starting at `position`: the channel's first event gets id `position + 1`.
 */
export function channelRecord(position: number, retention: number, now: number, instance: string): StreamRecord {
  return {
    ...newRecord(
      { contentType: "application/json", ttlSeconds: null, expiresAt: null, closed: false, entries: [], fork: null },
      now,
      instance,
    ),
    head: position,
    tail: position,
    retention,
  };
}

/** Where a read starts: a position, the oldest entry kept (`-1`), or the end (`now`). */
export type ReadPosition = number | "start" | "tail";

/** The position a read from `position` starts at. */
export function positionIn(record: StreamRecord, position: ReadPosition): number {
  if (position === "start") return record.head;
  return position === "tail" ? record.tail : position;
}

/** Limits a log enforces per stream; 0: none. */
export interface StreamLimits {
  maxBytes: number;
  maxEntries: number;
}

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export function newRecord(request: CreateRequest, now: number, instance: string): StreamRecord {
  return {
    instance,
    contentType: request.contentType ?? DEFAULT_CONTENT_TYPE,
    ttlSeconds: request.ttlSeconds,
    expiresAt: request.expiresAt,
    touchedAt: now,
    closed: false,
    tail: 0,
    head: 0,
    bytes: 0,
    streamSeq: null,
    producers: {},
    closedBy: null,
    fork: null,
    forks: 0,
    deleted: false,
  };
}

/** Whether a stream's TTL or expiry time has passed: it is then as if it never was. */
export function isExpired(record: StreamRecord, now: number): boolean {
  if (record.expiresAt !== null && now >= Date.parse(record.expiresAt)) return true;
  return record.ttlSeconds !== null && now >= record.touchedAt + record.ttlSeconds * 1000;
}

/** The media type without parameters: what appends are compared by. */
export function mediaTypeOf(contentType: string): string {
  // Without split(): an array per call, and an append asks three times.
  const end = contentType.indexOf(";");
  return (end === -1 ? contentType : contentType.slice(0, end)).trim();
}

/** Why an existing stream does not match a PUT, or undefined when it does (PROTOCOL.md §5.1). */
export function createConflict(record: StreamRecord, request: CreateRequest): string | undefined {
  const contentType = request.contentType ?? (request.fork === null ? DEFAULT_CONTENT_TYPE : record.contentType);
  if (mediaTypeOf(record.contentType) !== mediaTypeOf(contentType)) return "it has another content type";
  // A fork that asked for no expiry took its source's: compare what it asked for, not what it got.
  const inherited = request.fork !== null && request.ttlSeconds === null && request.expiresAt === null;
  if (!inherited && record.ttlSeconds !== request.ttlSeconds) return "it has another Stream-TTL";
  if (!inherited && !sameInstant(record.expiresAt, request.expiresAt)) return "it has another Stream-Expires-At";
  if (record.closed !== request.closed) return record.closed ? "it is closed" : "it is open";
  const fork = request.fork;
  if ((record.fork === null) !== (fork === null)) return "one is a fork and the other is not";
  if (record.fork !== null && fork !== null) {
    if (record.fork.from !== fork.from) return "it is forked from another stream";
    if (fork.position !== null && record.fork.position !== fork.position) return "it is forked at another offset";
    if (record.fork.subOffset !== fork.subOffset) return "it is forked at another sub-offset";
  }
  return undefined;
}

function sameInstant(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return Date.parse(a) === Date.parse(b);
}

/**
 * The TTL and expiry of a fork (PROTOCOL.md §4.2's table): its own if it asks for one, else the
 * source's sliding TTL or its absolute expiry.
 */
export function forkExpiry(
  source: StreamRecord,
  request: CreateRequest,
): Pick<StreamRecord, "ttlSeconds" | "expiresAt"> {
  if (request.ttlSeconds !== null || request.expiresAt !== null) {
    return { ttlSeconds: request.ttlSeconds, expiresAt: request.expiresAt };
  }
  return { ttlSeconds: source.ttlSeconds, expiresAt: source.expiresAt };
}

/** Whether a stream keeps JSON messages (PROTOCOL.md §9.1) rather than bytes. */
export function isJsonStream(contentType: string): boolean {
  return mediaTypeOf(contentType) === "application/json";
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * The first `subOffset` bytes of a byte stream's entry, or messages of a JSON stream's, for a fork
 * that starts inside it (PROTOCOL.md §4.2, `Stream-Fork-Sub-Offset`); undefined if it has fewer.
 */
export function entryPrefix(entry: Uint8Array, subOffset: number, json: boolean): Uint8Array | undefined {
  if (!json) return subOffset <= entry.byteLength ? entry.slice(0, subOffset) : undefined;
  const messages = JSON.parse(`[${utf8Decoder.decode(entry)}]`) as unknown[];
  if (subOffset > messages.length) return undefined;
  return utf8.encode(
    messages
      .slice(0, subOffset)
      .map((message) => JSON.stringify(message))
      .join(","),
  );
}

/**
 * Decides a fork of `source` (PROTOCOL.md §4.2): on success fills in the fork's `record` (content
 * type, TTL or expiry, head, how it was forked) and says where it starts; otherwise why it cannot be.
 * A sub-offset then takes `forkPrefix` of the source's entry at `position`, which the backend reads.
 */
export function planFork(
  record: StreamRecord,
  source: StreamRecord,
  request: CreateRequest,
  fork: ForkRequest,
): { kind: "fork"; position: number } | Extract<CreateResult, { kind: "conflict" | "invalid-fork" }> {
  if (source.deleted) return { kind: "conflict", message: "its source was deleted" };
  const contentType = request.contentType ?? source.contentType;
  if (mediaTypeOf(contentType) !== mediaTypeOf(source.contentType)) {
    return { kind: "conflict", message: "a fork has its source's content type" };
  }
  const position = fork.position ?? source.tail;
  if (position > source.tail) return { kind: "invalid-fork", message: "the fork offset is past the tail" };
  if (position < source.head)
    return { kind: "invalid-fork", message: "the fork offset is before the oldest entry kept" };
  Object.assign(record, forkExpiry(source, request), {
    contentType,
    head: source.head,
    tail: source.head,
    fork: { from: fork.from, source: source.instance, position, subOffset: fork.subOffset },
  });
  return { kind: "fork", position };
}

/**
 * What a fork with a sub-offset inherits of the source's entry at its position (undefined: there is
 * none, at the tail), or why it cannot.
 */
export function forkPrefix(
  record: StreamRecord,
  next: Uint8Array | undefined,
): Uint8Array | Extract<CreateResult, { kind: "invalid-fork" }> {
  const subOffset = record.fork?.subOffset ?? 0;
  const prefix = next && entryPrefix(next, subOffset, isJsonStream(record.contentType));
  return prefix ?? { kind: "invalid-fork", message: "the sub-offset is past the next entry" };
}

/** What an append does to a stream, decided before anything is written. */
export type AppendPlan =
  | Exclude<AppendResult, { kind: "appended" } | { kind: "not-found" } | { kind: "gone" }>
  /** Nothing to write: a retry of what is stored, or a close of a closed stream. */
  | { kind: "no-op"; producerSeq: number | undefined }
  /** Write `entries` (maybe none: a close), then apply the record's new fields. */
  | {
      kind: "write";
      entries: Uint8Array[];
      close: boolean;
      producer: ProducerTuple | undefined;
      streamSeq: string | undefined;
    };

/**
 * Decides an append (PROTOCOL.md §5.2, §5.2.1, §5.3). Order as the protocol recommends: a closed
 * stream first (so the client sees `Stream-Closed`), then the content type, then the producer and
 * `Stream-Seq`; a producer's stale epoch is fenced even on a closed stream.
 */
export function planAppend(record: StreamRecord, request: AppendRequest, limits: StreamLimits): AppendPlan {
  const { producer } = request;
  const hasData = request.entries.length > 0;
  const state = producer === undefined ? undefined : record.producers[producer.id];

  if (record.closed) {
    const by = record.closedBy;
    if (producer !== undefined && by !== null && by.id === producer.id) {
      if (by.epoch === producer.epoch && by.seq === producer.seq) {
        return { kind: "no-op", producerSeq: by.seq };
      }
    }
    if (producer !== undefined && state !== undefined && producer.epoch < state.epoch) {
      return { kind: "stale-epoch", epoch: state.epoch };
    }
    if (!hasData && request.close) return { kind: "no-op", producerSeq: producer?.seq };
    return { kind: "closed", record };
  }

  if (hasData && mediaTypeOf(request.contentType ?? "") !== mediaTypeOf(record.contentType)) {
    return { kind: "content-type-mismatch", record };
  }

  if (producer !== undefined && state !== undefined) {
    if (producer.epoch < state.epoch) return { kind: "stale-epoch", epoch: state.epoch };
    if (producer.epoch === state.epoch) {
      // A retry of something already accepted: answered as a success, written nothing.
      if (producer.seq <= state.seq) return { kind: "no-op", producerSeq: state.seq };
      if (producer.seq > state.seq + 1) {
        return { kind: "sequence-gap", expected: state.seq + 1, received: producer.seq };
      }
    } else if (producer.seq !== 0) {
      return { kind: "epoch-needs-seq-zero" };
    }
  } else if (producer !== undefined && producer.seq !== 0) {
    // A producer new to this stream starts at 0; anything else means requests were lost before it.
    return { kind: "sequence-gap", expected: 0, received: producer.seq };
  }

  if (request.streamSeq !== undefined && record.streamSeq !== null && request.streamSeq <= record.streamSeq) {
    return { kind: "stream-seq-conflict", record, last: record.streamSeq };
  }

  const tooLarge = overLimit(record, request.entries, limits);
  if (tooLarge !== undefined) return { kind: "too-large", message: tooLarge };

  return { kind: "write", entries: request.entries, close: request.close, producer, streamSeq: request.streamSeq };
}

/** Why appending `entries` would take the stream past a limit, or undefined. */
export function overLimit(record: StreamRecord, entries: Uint8Array[], limits: StreamLimits): string | undefined {
  if (limits.maxEntries > 0 && record.tail - record.head + entries.length > limits.maxEntries) {
    return `a stream keeps at most ${limits.maxEntries} appends`;
  }
  const bytes = entries.reduce((sum, entry) => sum + entry.byteLength, 0);
  if (limits.maxBytes > 0 && record.bytes + bytes > limits.maxBytes) {
    return `a stream keeps at most ${limits.maxBytes} bytes`;
  }
  return undefined;
}

/**
 * Applies a `write` plan's effect on the record (the entries are the backend's to store). Retention
 * may move `head`: the backend then drops the entries before it and their bytes (`dropped`).
 */
export function applyWrite(record: StreamRecord, plan: Extract<AppendPlan, { kind: "write" }>, now: number): void {
  record.tail += plan.entries.length;
  record.head = retainedHead(record);
  for (const entry of plan.entries) record.bytes += entry.byteLength;
  record.touchedAt = now;
  if (plan.streamSeq !== undefined) record.streamSeq = plan.streamSeq;
  if (plan.producer !== undefined) {
    record.producers[plan.producer.id] = { epoch: plan.producer.epoch, seq: plan.producer.seq };
  }
  if (plan.close) {
    record.closed = true;
    record.closedBy = plan.producer ?? null;
  }
}

/** The answer to a plan, once a `write` was applied to `record`. */
export function appendResultOf(record: StreamRecord, plan: AppendPlan): AppendResult {
  if (plan.kind === "write") {
    return { kind: "appended", record, stored: plan.entries.length > 0, producerSeq: plan.producer?.seq };
  }
  if (plan.kind === "no-op") return { kind: "appended", record, stored: false, producerSeq: plan.producerSeq };
  return plan;
}
