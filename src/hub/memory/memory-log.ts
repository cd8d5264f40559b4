/**
 * The log in this process's memory (Node, Bun and Deno without Redis). Everything is lost when the
 * process ends: a stream read after a restart is `404`, never a stream with a silent gap.
 * Synchronous inside, so each request is decided and applied in one step (no other request can
 * interleave: what the protocol asks of producers, "serialize validation + append", for free).
 */
import type { ChannelStorage } from "../channel-log.ts";
import type {
  AppendRequest,
  AppendResult,
  CreateRequest,
  CreateResult,
  DeleteResult,
  LogChange,
  ReadResult,
  StreamLog,
  StreamLookup,
} from "../log.ts";
import {
  appendResultOf,
  applyWrite,
  createConflict,
  forkPrefix,
  isExpired,
  newRecord,
  overLimit,
  planAppend,
  planFork,
  positionIn,
  type ReadPosition,
  type StreamLimits,
  type StreamRecord,
} from "../stream-rules.ts";
import { EntryPages } from "./entry-pages.ts";

interface MemoryStream {
  record: StreamRecord;
  /** entries[i] is the entry at position base + i; base is record.head once a write is done. */
  entries: Uint8Array[];
  base: number;
  /** Where its entries' bytes are kept (copied in as they are written). */
  pages: EntryPages;
  /** A channel's idempotency keys (see `channel`): key -> its entry and when it is forgotten, oldest first. */
  keys?: Map<string, { entry: Uint8Array; expiresAt: number }>;
}

/**
 * At most this many idempotency keys per channel; past it the oldest is forgotten early. Each holds
 * its entry: this bounds what keyed publishes pin.
 */
export const MAX_IDEMPOTENCY_KEYS = 10_000;

const DELETED: LogChange = { kind: "deleted" };

/** Drops the entries retention left before `record.head`, and takes their bytes off the record. */
function dropRetained(stream: MemoryStream): void {
  const { record } = stream;
  // Usually one entry: V8 shifts an array's start in place, without copying the rest.
  for (; stream.base < record.head; stream.base++) {
    record.bytes -= (stream.entries.shift() as Uint8Array).byteLength;
  }
}

// Expired streams nobody asks for again are swept at most this often, from a create.
const SWEEP_INTERVAL_MS = 60_000;

export class MemoryLog implements StreamLog {
  private readonly streams = new Map<string, MemoryStream>();
  private readonly watchers = new Map<string, Set<(change: LogChange) => void>>();
  private sweptAt = 0;

  constructor(
    private readonly limits: StreamLimits = { maxBytes: 0, maxEntries: 0 },
    private readonly clock: () => number = Date.now,
  ) {}

  async create(name: string, request: CreateRequest): Promise<CreateResult> {
    const now = this.clock();
    this.sweep(now);
    const existing = this.live(name, now);
    if (existing !== undefined) {
      if (existing.record.deleted) return { kind: "conflict", message: "it was deleted while forks of it live" };
      const conflict = createConflict(existing.record, request);
      return conflict === undefined
        ? { kind: "exists", record: existing.record }
        : { kind: "conflict", message: conflict };
    }

    const record = newRecord(request, now, crypto.randomUUID());
    const pages = new EntryPages();
    let entries: Uint8Array[] = [];
    let source: MemoryStream | undefined;
    if (request.fork !== null) {
      source = this.live(request.fork.from, now);
      if (source === undefined) return { kind: "fork-source-missing" };
      const fork = planFork(record, source.record, request, request.fork);
      if (fork.kind !== "fork") return fork;
      const inherited = fork.position - source.base;
      entries = source.entries.slice(0, inherited);
      if (request.fork.subOffset > 0) {
        const prefix = forkPrefix(record, source.entries[inherited]);
        if (!(prefix instanceof Uint8Array)) return prefix;
        entries.push(...pages.keep([prefix]));
      }
    }
    entries.push(...pages.keep(request.entries));
    record.tail = record.head;
    const tooLarge = overLimit(record, entries, this.limits);
    if (tooLarge !== undefined) return { kind: "too-large", message: tooLarge };
    record.tail = record.head + entries.length;
    for (const entry of entries) record.bytes += entry.byteLength;
    record.closed = request.closed;
    if (source !== undefined) source.record.forks++;
    this.streams.set(name, { record, entries, base: record.head, pages });
    this.changed(name, { kind: "created", record });
    return { kind: "created", record };
  }

  async append(name: string, request: AppendRequest): Promise<AppendResult> {
    const now = this.clock();
    const stream = this.live(name, now);
    if (stream === undefined) return { kind: "not-found" };
    if (stream.record.deleted) return { kind: "gone" };
    const plan = planAppend(stream.record, request, this.limits);
    if (plan.kind === "write") {
      const from = stream.record.tail;
      applyWrite(stream.record, plan, now);
      const entries = stream.pages.keep(plan.entries);
      stream.entries.push(...entries);
      dropRetained(stream);
      this.changed(name, { kind: "appended", from, entries, record: stream.record });
    } else if (plan.kind === "no-op") {
      stream.record.touchedAt = now;
    }
    return appendResultOf(stream.record, plan);
  }

  async read(name: string, position: ReadPosition, maxBytes: number): Promise<ReadResult> {
    const now = this.clock();
    const stream = this.live(name, now);
    if (stream === undefined) return { kind: "not-found" };
    const { record } = stream;
    if (record.deleted) return { kind: "gone" };
    record.touchedAt = now;
    const from = positionIn(record, position);
    if (from > record.tail) return { kind: "beyond-tail", record };
    if (from < record.head) return { kind: "trimmed", record, oldest: record.head };
    const entries: Uint8Array[] = [];
    let bytes = 0;
    for (let index = from - stream.base; index < stream.entries.length; index++) {
      const entry = stream.entries[index] as Uint8Array;
      if (entries.length > 0 && bytes + entry.byteLength > maxBytes) break;
      entries.push(entry);
      bytes += entry.byteLength;
    }
    return { kind: "found", record, entries, next: from + entries.length };
  }

  async head(name: string): Promise<StreamLookup> {
    const stream = this.live(name, this.clock());
    if (stream === undefined) return { kind: "not-found" };
    return stream.record.deleted ? { kind: "gone" } : { kind: "found", record: stream.record };
  }

  async delete(name: string): Promise<DeleteResult> {
    const stream = this.live(name, this.clock());
    if (stream === undefined) return "not-found";
    if (stream.record.deleted) return "gone";
    if (stream.record.forks > 0) {
      // Forks copied what they inherited; the name stays taken (410, and 409 to a PUT) until they go.
      stream.record.deleted = true;
    } else {
      this.remove(name);
    }
    this.changed(name, DELETED);
    return "deleted";
  }

  watch(name: string, listener: (change: LogChange) => void): () => void {
    let listeners = this.watchers.get(name);
    if (listeners === undefined) {
      listeners = new Set();
      this.watchers.set(name, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.watchers.get(name) === listeners) this.watchers.delete(name);
    };
  }

  /**
   * The stream `name` as a channel keeps it (see channel-log.ts): made by its first write, written
   * only through this. Synchronous, as the channel's replay-then-live step needs.
   */
  channel(name: string): ChannelStorage {
    return {
      // A channel's stream never expires and is never deleted (the routes refuse it): no check.
      record: () => this.streams.get(name)?.record,
      write: (from, entries, record) => {
        let stream = this.streams.get(name);
        if (stream === undefined || stream.record !== record) {
          stream = { record, entries: [], base: from, pages: new EntryPages() };
          this.streams.set(name, stream);
        }
        const kept = stream.pages.keep(entries);
        stream.entries.push(...kept);
        dropRetained(stream);
        this.changed(name, { kind: "appended", from, entries: kept, record });
      },
      entries: (from, to) => {
        const stream = this.streams.get(name);
        if (stream === undefined) return [];
        const start = Math.max(from, stream.base) - stream.base;
        return stream.entries.slice(start, Math.max(start, to - stream.base));
      },
      keyed: (key, now) => {
        const keys = this.streams.get(name)?.keys;
        if (keys === undefined) return undefined;
        // Swept lazily, from the oldest (one TTL for all: insertion order is expiry order).
        for (const [oldest, { expiresAt }] of keys) {
          if (expiresAt > now) break;
          keys.delete(oldest);
        }
        return keys.get(key)?.entry;
      },
      rememberKey: (key, entry, expiresAt) => {
        const stream = this.streams.get(name);
        if (stream === undefined) return;
        stream.keys ??= new Map();
        stream.keys.set(key, { entry, expiresAt });
        if (stream.keys.size > MAX_IDEMPOTENCY_KEYS) stream.keys.delete(stream.keys.keys().next().value as string);
      },
    };
  }

  /** The stream, unless it expired (then it is removed, as if deleted). */
  private live(name: string, now: number): MemoryStream | undefined {
    const stream = this.streams.get(name);
    if (stream !== undefined && isExpired(stream.record, now)) {
      this.remove(name);
      this.changed(name, DELETED);
      return undefined;
    }
    return stream;
  }

  /** Removes a stream, and its source too if that was deleted and this was its last fork. */
  private remove(name: string): void {
    const stream = this.streams.get(name);
    if (stream === undefined) return;
    this.streams.delete(name);
    const from = stream.record.fork?.from;
    const source = from === undefined ? undefined : this.streams.get(from);
    if (from !== undefined && source !== undefined && source.record.instance === stream.record.fork?.source) {
      source.record.forks = Math.max(0, source.record.forks - 1);
      if (source.record.deleted && source.record.forks === 0) this.remove(from);
    }
  }

  private changed(name: string, change: LogChange): void {
    const listeners = this.watchers.get(name);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) listener(change);
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_INTERVAL_MS) return;
    this.sweptAt = now;
    for (const name of [...this.streams.keys()]) this.live(name, now);
  }
}
