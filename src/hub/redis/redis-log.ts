/**
 * The log on Redis: durable streams shared by every Node, Bun and Deno process on one Redis, with
 * the in-memory log's semantics (copy-on-fork, deletion kept as 410 while forks live, lazy expiry,
 * limits). Each create, append and delete reads the records it depends on, decides with the shared
 * rules (stream-rules.ts), and writes with a checked write (checked-write.ts): applied only if those
 * records are still as read, else decided again. So each stream changes in one atomic step at a
 * time across every process, which is what the protocol asks of producers ("serialize validation +
 * append per (stream, producerId)"), and an append is answered only once Redis has applied it (and,
 * with `appendfsync always`, written it to disk).
 *
 * Keys per stream (stream-keys.ts): the record, the entries, the forks made from it, and a pub/sub
 * channel on which every write announces its change (log-notice.ts) to each process's watchers.
 * The process that appended tells its own watchers as soon as Redis answers, and not again when the
 * notice comes (stream-watchers.ts).
 * Streams with a TTL or an expiry time also get a Redis expiry, so that one nobody asks for again
 * frees its memory; the rules' own `isExpired` decides, lazily, on every request.
 * See docs/architecture.md ("The Redis log") and docs/reliability.md.
 */
import { ErrorReply, RESP_TYPES } from "redis";
import { BackendUnavailableError } from "../backend-unavailable.ts";
import {
  APPEND_SPACING_MS,
  type AppendRequest,
  type AppendResult,
  type CreateRequest,
  type CreateResult,
  type DeleteResult,
  type LogChange,
  type ReadResult,
  type StreamLog,
  type StreamLookup,
  type WatchInterest,
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
import { type Argument, CHECKED_WRITE_SCRIPT, CheckedWrite } from "./checked-write.ts";
import { CommandDeadline } from "./command-deadline.ts";
import { decodeNotice, encodeNotice, encodeOwnAppendNotice, ownAppendNumber, ownNoticePrefix } from "./log-notice.ts";
import { READ_SCRIPT } from "./read-script.ts";
import { runScript, runScriptWith, sha1 } from "./script-sha.ts";
import { type StreamKeys, streamKeys } from "./stream-keys.ts";
import { StreamWatchers } from "./stream-watchers.ts";

/** Replies with bulk strings as Buffers: entries are bytes, not text. */
const AS_BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer };

/** What the log uses of node-redis's command connection (created with `disableOfflineQueue`). */
export interface LogCommands {
  sendCommand(args: Argument[], options: { timeout: number; typeMapping?: typeof AS_BUFFERS }): Promise<unknown>;
}

/** What the log uses of node-redis's pub/sub connection; node-redis resubscribes before `ready`. */
export interface LogSubscriber {
  readonly isReady: boolean;
  on(event: "ready" | "end" | "error", listener: () => void): unknown;
  sSubscribe(channel: string, listener: (message: Buffer) => void, bufferMode: true): Promise<unknown>;
  sUnsubscribe(channel: string, listener: (message: Buffer) => void, bufferMode: true): Promise<unknown>;
}

export interface RedisLogOptions {
  commands: LogCommands;
  subscriber: LogSubscriber;
  limits: StreamLimits;
  /** How long a command may wait to be sent (Redis unreachable) before the request answers 503. */
  timeoutMs: number;
  /** What every key starts with (default `edge-sse`, as the hub's). */
  prefix?: string;
  clock?: () => number;
  /**
   * Asked when a stream has no record: brings in what the stream was before it was one (a channel of
   * the earlier version, legacy-channel.ts), true if it did. Without it, a missing stream is missing.
   */
  bringIn?: (name: string) => Promise<boolean>;
  /** See StreamLog.appendSpacingMs. Default APPEND_SPACING_MS. */
  appendSpacingMs?: number;
}

/** A stream as read from Redis. */
interface Loaded {
  name: string;
  keys: StreamKeys;
  record: StreamRecord;
  /** The record's JSON exactly as stored: what a write decided on this read expects to find. */
  json: string;
  /** The Redis expiry (ms since the epoch) that this process's last write of it set, if it set one. */
  expiry?: number;
}

/** One stream's subscription in this process, shared by its watchers. */
interface Watched {
  name: string;
  keys: StreamKeys;
  /** Its channel: the stream's `changes`, or for watchers of its end only, its `ends`. */
  interest: WatchInterest;
  watchers: StreamWatchers;
  onNotice: (notice: Buffer) => void;
  /** Set while nobody watches: the subscription stays a while for the next watcher (see watch). */
  linger: ReturnType<typeof setTimeout> | undefined;
}

/** What an attempt decided: its answer, and the write that makes it true (none: nothing to write). */
interface Decision<T> {
  result: T;
  write?: CheckedWrite;
  /** The stream as `write` leaves it, for the next append to decide on (see RedisLog.written). */
  after?: Loaded;
  /** The append `write` makes, told to this process's watchers once applied (stream-watchers.ts). */
  appended?: Extract<LogChange, { kind: "appended" }>;
  /** Its number, which its notice carries (log-notice.ts). */
  appendNumber?: number;
}

const DELETED: LogChange = { kind: "deleted" };

// A subscription nobody watches is kept this long: a long-poll or SSE reader watches anew after
// each wake-up, and a fresh subscription costs a round trip and a read of the record (see watch).
const SUBSCRIPTION_LINGER_MS = 10_000;
// Redis forgets an expired stream's keys this long after the rules count it expired: the rules
// decide (lazily, on every request), Redis only frees the memory; the margin covers clock skew
// between the processes and Redis.
const EXPIRY_MARGIN_MS = 5_000;
// A write decided on records that changed before it applied is decided again, up to this often
// (contention on one stream from many processes); then the request answers 503.
const MAX_ATTEMPTS = 50;
// Reads fetch at most this many entries per round trip.
const MAX_READ_BATCH = 10_000;
// Streams whose record as last written here is kept for the next append (see RedisLog.written).
const MAX_WRITTEN = 1_000;
// An append moves a sliding TTL's Redis expiry only once it is this much behind the record's: an
// answer appends every token, and three PEXPIREATs each time were half of its write's six commands.
// Redis then frees the keys up to this much later, still well after the rules count them expired.
const EXPIRY_SLACK_MS = 1_000;

export class RedisLog implements StreamLog {
  readonly appendSpacingMs: number;
  private readonly prefix: string;
  private readonly clock: () => number;
  /** What every command races: Redis answers within about `timeoutMs`, or the request is a 503. */
  private readonly deadline: CommandDeadline;
  private readonly scriptSha: Promise<string>;
  /** scriptSha once known: a write awaits nothing for it. */
  private checkedWriteSha: string | undefined;
  private readonly readScriptSha = sha1(READ_SCRIPT);
  /** This process's requests per stream, one at a time: they would only make each other retry. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /**
   * Streams as this process's last append left them. The next append here decides on that instead
   * of reading the record first: one round trip (the checked write) instead of two. The check
   * still compares the record in Redis with this one, so if any other write came between (another
   * process, a create or delete), nothing is written and the append reads and decides again. Taken
   * out while an append uses it; at most MAX_WRITTEN streams, the least recently written go first.
   */
  private readonly written = new Map<string, Loaded>();
  private readonly watched = new Map<string, Watched>();
  /** Subscriptions of watchers that only wait for a stream's end (see watch). */
  private readonly watchedEnds = new Map<string, Watched>();
  /** False once the pub/sub connection was lost, until it is back (and watchers have read again). */
  private listening: boolean;
  /** Names this log's appends in their notices, so that it knows its own (log-notice.ts). */
  private readonly origin = crypto.randomUUID().replaceAll("-", "");
  private readonly ownPrefix = ownNoticePrefix(this.origin);
  private appendsMade = 0;
  private closed = false;

  constructor(private readonly options: RedisLogOptions) {
    this.prefix = options.prefix ?? "edge-sse";
    this.appendSpacingMs = options.appendSpacingMs ?? APPEND_SPACING_MS;
    this.clock = options.clock ?? Date.now;
    this.scriptSha = sha1(CHECKED_WRITE_SCRIPT);
    this.listening = options.subscriber.isReady;
    this.deadline = new CommandDeadline(options.timeoutMs);
    options.subscriber.on("error", () => this.lost());
    options.subscriber.on("end", () => this.lost());
    options.subscriber.on("ready", () => this.reconnected());
  }

  create(name: string, request: CreateRequest): Promise<CreateResult> {
    this.written.delete(name);
    return this.serialized(name, () => this.decide(name, () => this.decideCreate(name, request)));
  }

  append(name: string, request: AppendRequest): Promise<AppendResult> {
    return this.serialized(name, () => {
      // The usual case, this process the stream's last writer (an answer's next chunks): decided on the
      // stream as last written here, its write sent at once. Else read first (a retry reads too).
      const known = this.takeWritten(name);
      const decided = known === undefined ? undefined : this.decideOnWritten(known, request, this.clock());
      return this.decide(name, () => this.decideAppend(name, request), decided);
    });
  }

  delete(name: string): Promise<DeleteResult> {
    this.written.delete(name);
    return this.serialized(name, () => this.decide(name, () => this.decideDelete(name)));
  }

  async read(name: string, position: ReadPosition, maxBytes: number): Promise<ReadResult> {
    for (;;) {
      const now = this.clock();
      const stream = await this.live(name, now);
      if (stream === undefined) return { kind: "not-found" };
      const { record } = stream;
      if (record.deleted) return { kind: "gone" };
      await this.touch(stream, now);
      const from = positionIn(record, position);
      if (from > record.tail) return { kind: "beyond-tail", record };
      if (from < record.head) return { kind: "trimmed", record, oldest: record.head };
      const entries = await this.entriesFrom(stream, from, maxBytes);
      // Deleted and created again between the two reads: read the new stream.
      if (entries === undefined) continue;
      return { kind: "found", record, entries, next: from + entries.length };
    }
  }

  async head(name: string): Promise<StreamLookup> {
    const stream = await this.live(name, this.clock());
    if (stream === undefined) return { kind: "not-found" };
    return stream.record.deleted ? { kind: "gone" } : { kind: "found", record: stream.record };
  }

  /**
   * Watchers of a stream share one subscription to its pub/sub channel, so every process hears of
   * every write, wherever it was made. Subscribing takes a round trip: a watcher that came before
   * the subscription was in place (it may have read just before a write it did not hear of) is told
   * the stream's state once it is, as an append of nothing at the current tail, so that a reader
   * anywhere else reads again. A lost pub/sub connection is told as `deleted` (readers read again,
   * and end while Redis is away); once it is back, the same state as for a new subscription.
   * An append made in this process is told as soon as Redis has applied it (stream-watchers.ts).
   *
   * Watchers of the `"ends"` only (an answer's generation, waiting for a stop from another process)
   * subscribe to the stream's `ends` channel instead, which only closes and deletions are announced
   * on: the process that appends every token to a stream does not hear each of its own appends back.
   * They are the ones a stop asked from another process reaches (`askWriterToStop`), and their
   * subscription does not linger once they stop watching.
   */
  watch(name: string, listener: (change: LogChange) => void, interest: WatchInterest = "changes"): () => void {
    const watched = this.subscriptions(interest).get(name) ?? this.subscribe(name, interest);
    if (watched.linger !== undefined) {
      clearTimeout(watched.linger);
      watched.linger = undefined;
    }
    watched.watchers.listeners.add(listener);
    return () => {
      watched.watchers.listeners.delete(listener);
      if (watched.watchers.listeners.size > 0 || watched.linger !== undefined || this.closed) return;
      // An end's watcher (a generation) goes at once: `askWriterToStop` counts those still subscribed.
      if (interest === "ends") this.unsubscribe(watched);
      else watched.linger = setTimeout(() => this.unsubscribe(watched), SUBSCRIPTION_LINGER_MS);
    };
  }

  /** Stops every subscription's timer (shutdown, tests); the connections are the hub's to close. */
  close(): void {
    this.closed = true;
    for (const watched of this.allWatched()) {
      if (watched.linger !== undefined) clearTimeout(watched.linger);
      watched.watchers.tell(DELETED);
    }
    this.watched.clear();
    this.watchedEnds.clear();
  }

  private subscriptions(interest: WatchInterest): Map<string, Watched> {
    return interest === "ends" ? this.watchedEnds : this.watched;
  }

  private allWatched(): Watched[] {
    return [...this.watched.values(), ...this.watchedEnds.values()];
  }

  /**
   * Asks the stream's writer, on whichever process it runs, to stop: a notice on the stream's `ends`
   * channel, which an answer's generation watches (answer.ts), and only while it runs (see `watch`).
   * Redis says how many subscribers got it: 0 when no generation is there to hear it.
   */
  askWriterToStop(name: string, reason: string): Promise<number> {
    const keys = streamKeys(this.prefix, name);
    return this.command<number>(["SPUBLISH", keys.ends, encodeNotice({ kind: "stop-asked", reason })]).then(Number);
  }

  private async decideCreate(name: string, request: CreateRequest): Promise<Decision<CreateResult>> {
    const now = this.clock();
    const existing = await this.live(name, now);
    if (existing !== undefined) {
      if (existing.record.deleted) {
        return { result: { kind: "conflict", message: "it was deleted while forks of it live" } };
      }
      const conflict = createConflict(existing.record, request);
      return {
        result:
          conflict === undefined
            ? { kind: "exists", record: existing.record }
            : { kind: "conflict", message: conflict },
      };
    }

    const keys = streamKeys(this.prefix, name);
    const record = newRecord(request, now, crypto.randomUUID());
    const write = new CheckedWrite().expect(keys.record, undefined);
    let entries: Uint8Array[] = [];
    let source: Loaded | undefined;
    if (request.fork !== null) {
      const { subOffset } = request.fork;
      source = await this.live(request.fork.from, now);
      if (source === undefined) return { result: { kind: "fork-source-missing" } };
      const fork = planFork(record, source.record, request, request.fork);
      if (fork.kind !== "fork") return { result: fork };
      // Copied, not shared: the fork outlives its source's deletion. The check on the source's
      // record below also vouches for these entries (a stream's entries only grow while it lives).
      const inherited = fork.position - source.record.head;
      const copied = await this.range(source.keys, 0, inherited + (subOffset > 0 ? 1 : 0));
      entries = copied.slice(0, inherited);
      if (subOffset > 0) {
        const prefix = forkPrefix(record, copied[inherited]);
        if (!(prefix instanceof Uint8Array)) return { result: prefix };
        entries.push(prefix);
      }
    }
    entries.push(...request.entries);
    record.tail = record.head;
    const tooLarge = overLimit(record, entries, this.options.limits);
    if (tooLarge !== undefined) return { result: { kind: "too-large", message: tooLarge } };
    record.tail = record.head + entries.length;
    for (const entry of entries) record.bytes += entry.byteLength;
    record.closed = request.closed;

    if (source !== undefined) {
      // Its record changes: an append here deciding on it as last written would only be refused.
      this.written.delete(source.name);
      source.record.forks++;
      write.expect(source.keys.record, source.json);
      this.putRecord(write, source);
      write.run([source.keys.forks], "SADD", source.keys.forks, name);
      this.expire(write, source);
    }
    // Whatever an expired namesake left behind (Redis frees its keys one by one).
    write.run([keys.entries, keys.forks], "DEL", keys.entries, keys.forks);
    write.push(keys.entries, entries.map(bufferOf));
    write.run([keys.record], "HSET", keys.record, "json", JSON.stringify(record), "touched", String(now));
    this.expire(write, { keys, record });
    this.announce(write, keys, { kind: "created", record });
    return { result: { kind: "created", record }, write };
  }

  private async decideAppend(name: string, request: AppendRequest): Promise<Decision<AppendResult>> {
    const now = this.clock();
    const stream = await this.live(name, now);
    if (stream === undefined) return { result: { kind: "not-found" } };
    if (stream.record.deleted) return { result: { kind: "gone" } };
    const plan = planAppend(stream.record, request, this.options.limits);
    if (plan.kind === "write") return this.appendWrite(stream, plan, now);
    if (plan.kind === "no-op") await this.touch(stream, now);
    return { result: appendResultOf(stream.record, plan) };
  }

  /**
   * The write of an append decided on the stream as this process last wrote it, with no read (see
   * `written`); undefined unless that is a write: any other answer (expired, closed, a conflict...)
   * comes from a read. The check still compares the record in Redis with this one.
   */
  private decideOnWritten(known: Loaded, request: AppendRequest, now: number): Decision<AppendResult> | undefined {
    if (isExpired(known.record, now) || known.record.deleted) return undefined;
    const plan = planAppend(known.record, request, this.options.limits);
    return plan.kind === "write" ? this.appendWrite(known, plan, now, known.expiry) : undefined;
  }

  /** The checked write of an append planned on `stream` (which it moves on), and what it tells. */
  private appendWrite(
    stream: Loaded,
    plan: Extract<ReturnType<typeof planAppend>, { kind: "write" }>,
    now: number,
    expirySet?: number,
  ): Decision<AppendResult> {
    const { name, record, keys } = stream;
    const from = record.tail;
    applyWrite(record, plan, now);
    const write = new CheckedWrite().expect(keys.record, stream.json);
    write.push(keys.entries, plan.entries.map(bufferOf));
    const json = this.putRecord(write, stream);
    const expiry = this.expire(write, stream, expirySet);
    const appended = { kind: "appended" as const, from, entries: plan.entries, record };
    const appendNumber = ++this.appendsMade;
    // Only a write to an open stream is decided (stream-rules.ts): closed now, this append closed it.
    this.announce(write, keys, encodeOwnAppendNotice(this.origin, appendNumber, appended, json), record.closed);
    // A record of its own (the answer's may still be read), as a read of what was written would
    // give; applyWrite replaces every field but `producers`, which it writes into.
    const after = { name, keys, record: { ...record, producers: { ...record.producers } }, json, expiry };
    return { result: appendResultOf(record, plan), write, after, appended, appendNumber };
  }

  private async decideDelete(name: string): Promise<Decision<DeleteResult>> {
    const now = this.clock();
    const stream = await this.live(name, now);
    if (stream === undefined) return { result: "not-found" };
    if (stream.record.deleted) return { result: "gone" };
    const write = new CheckedWrite();
    if ((await this.liveForks(stream, now)) > 0) {
      // Forks copied what they inherited; the name stays taken (410, and 409 to a PUT) until they go.
      stream.record.deleted = true;
      write.expect(stream.keys.record, stream.json);
      this.putRecord(write, stream);
    } else {
      await this.removal(write, stream);
    }
    this.announce(write, stream.keys, DELETED);
    return { result: "deleted", write };
  }

  /**
   * The stream, unless it expired (then it is removed and its watchers told, as if deleted), or
   * was deleted while forks lived and none does any more (then it is removed: Redis may have let
   * the last fork expire without anyone telling its source).
   */
  private async live(name: string, now: number): Promise<Loaded | undefined> {
    for (;;) {
      const stream = await this.load(name);
      if (stream === undefined) return undefined;
      const expired = isExpired(stream.record, now);
      if (!expired && !(stream.record.deleted && (await this.liveForks(stream, now)) === 0)) return stream;
      const write = new CheckedWrite();
      await this.removal(write, stream);
      if (expired) this.announce(write, stream.keys, DELETED);
      if (await this.apply(write)) return undefined;
      // It changed meanwhile: look again.
    }
  }

  private async load(name: string, bringIn = true): Promise<Loaded | undefined> {
    const keys = streamKeys(this.prefix, name);
    const [json, touched] = await this.command<[string | null, string | null]>([
      "HMGET",
      keys.record,
      "json",
      "touched",
    ]);
    if (json === null) {
      // Brought in (once: a record moved in is read on the next try), or missing.
      if (!bringIn || this.options.bringIn === undefined || !(await this.options.bringIn(name))) return undefined;
      return this.load(name, false);
    }
    const record = JSON.parse(json) as StreamRecord;
    // Reads count in the separate field, so that they never make a write decide again.
    if (touched !== null) record.touchedAt = Math.max(record.touchedAt, Number(touched));
    return { name, keys, record, json };
  }

  /** How many forks of a stream still live; only looked up when its record counts any. */
  private async liveForks(stream: Loaded, now: number): Promise<number> {
    if (stream.record.forks === 0) return 0;
    const names = await this.command<string[]>(["SMEMBERS", stream.keys.forks]);
    const forks = await Promise.all(names.map((name) => this.load(name)));
    return forks.filter(
      (fork) =>
        fork !== undefined && fork.record.fork?.source === stream.record.instance && !isExpired(fork.record, now),
    ).length;
  }

  /**
   * Adds the removal of a stream to `write`: its keys, and its count in its source; the source too
   * if that was deleted and this was its last fork (and so on up).
   */
  private async removal(write: CheckedWrite, stream: Loaded): Promise<void> {
    const { keys } = stream;
    write.expect(keys.record, stream.json);
    write.run([keys.record, keys.entries, keys.forks], "DEL", keys.record, keys.entries, keys.forks);
    const fork = stream.record.fork;
    const source = fork === null ? undefined : await this.load(fork.from);
    if (fork === null || source === undefined || source.record.instance !== fork.source) return;
    source.record.forks = Math.max(0, source.record.forks - 1);
    if (source.record.deleted && source.record.forks === 0) {
      await this.removal(write, source);
      return;
    }
    write.expect(source.keys.record, source.json);
    this.putRecord(write, source);
    write.run([source.keys.forks], "SREM", source.keys.forks, stream.name);
  }

  /** Resets a sliding TTL: a field of its own, so that reads never conflict with writes. */
  private async touch(stream: Loaded, now: number): Promise<void> {
    stream.record.touchedAt = now;
    if (stream.record.ttlSeconds === null) return;
    const write = new CheckedWrite().expect(stream.keys.record, stream.json);
    write.run([stream.keys.record], "HSET", stream.keys.record, "touched", String(now));
    this.expire(write, stream);
    // Not applied only if a write came first, and every write counts as a touch.
    await this.apply(write);
  }

  /**
   * Entries from `from` on, at most about `maxBytes` (at least one if any), up to the tail of the
   * record as read; undefined if the stream is no longer that one (deleted and created again).
   */
  private async entriesFrom(stream: Loaded, from: number, maxBytes: number): Promise<Uint8Array[] | undefined> {
    const { record, keys } = stream;
    const entries: Uint8Array[] = [];
    let bytes = 0;
    // As many entries as the stream's average size says fit, so that one round trip is usually all
    // (a read for 0 bytes, the first of a live=sse response, fetches one).
    const kept = record.tail - record.head;
    const average = kept === 0 ? 1 : Math.max(1, record.bytes / kept);
    const batch = Math.min(MAX_READ_BATCH, Math.ceil(maxBytes / average) + 1);
    for (let position = from; position < record.tail; ) {
      // With the record as it is at that moment (read-script.ts): retention (a channel's) may have
      // moved the head since `record` was read, and with it every entry's list index.
      const reply = await runScript(
        (args) => this.command<[Buffer, Buffer[]] | null>(args, AS_BUFFERS),
        READ_SCRIPT,
        await this.readScriptSha,
        ["2", keys.record, keys.entries, String(position), String(Math.min(batch, record.tail - position))],
      );
      if (reply === null) return undefined;
      const now = JSON.parse(reply[0].toString("utf8")) as StreamRecord;
      // A name never gets an instance back: another one is another stream (deleted and created again).
      if (now.instance !== record.instance) return undefined;
      // Dropped by retention since: what was read so far stands, else read again (`trimmed`).
      if (now.head > position) return entries.length > 0 ? entries : undefined;
      const fetched = reply[1];
      if (fetched.length === 0) break;
      for (const buffer of fetched) {
        const entry = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
        if (entries.length > 0 && bytes + entry.byteLength > maxBytes) return entries;
        entries.push(entry);
        bytes += entry.byteLength;
      }
      position += fetched.length;
    }
    return entries;
  }

  /** The entries at list indexes [start, end). */
  private async range(keys: StreamKeys, start: number, end: number): Promise<Uint8Array[]> {
    if (end <= start) return [];
    const reply = await this.command<Buffer[]>(["LRANGE", keys.entries, String(start), String(end - 1)], AS_BUFFERS);
    return reply.map((entry) => new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
  }

  /** Adds the write of a stream's record; returns its JSON as written. */
  private putRecord(write: CheckedWrite, stream: Pick<Loaded, "keys" | "record">): string {
    const json = JSON.stringify(stream.record);
    write.run([stream.keys.record], "HSET", stream.keys.record, "json", json);
    return json;
  }

  private takeWritten(name: string): Loaded | undefined {
    const stream = this.written.get(name);
    this.written.delete(name);
    return stream;
  }

  private keepWritten(stream: Loaded): void {
    this.written.delete(stream.name);
    this.written.set(stream.name, stream);
    if (this.written.size > MAX_WRITTEN) this.written.delete(this.written.keys().next().value as string);
  }

  /**
   * Sets the Redis expiry of a stream with a TTL or an expiry time, from its record; returns it.
   * `setBefore`: what this process's last write of the stream set (still so: the write is checked
   * against that record), left as it is if the new one is less than EXPIRY_SLACK_MS later.
   */
  private expire(
    write: CheckedWrite,
    { keys, record }: Pick<Loaded, "keys" | "record">,
    setBefore?: number,
  ): number | undefined {
    const times: number[] = [];
    if (record.expiresAt !== null) times.push(Date.parse(record.expiresAt));
    if (record.ttlSeconds !== null) times.push(record.touchedAt + record.ttlSeconds * 1000);
    if (times.length === 0) return undefined;
    const at = Math.min(...times) + EXPIRY_MARGIN_MS;
    if (setBefore !== undefined && at >= setBefore && at - setBefore < EXPIRY_SLACK_MS) return setBefore;
    for (const key of [keys.record, keys.entries, keys.forks]) write.run([key], "PEXPIREAT", key, String(at));
    return at;
  }

  /**
   * Announces the change on the stream's channel, in the same step as the write that makes it (an
   * append's notice comes encoded: it says which append of this log it is, see log-notice.ts). The
   * stream's end, a deletion or the append that `closes` it, goes to its `ends` channel too (see watch).
   */
  private announce(write: CheckedWrite, keys: StreamKeys, change: LogChange | Buffer, closes = false): void {
    const notice = Buffer.isBuffer(change) ? change : encodeNotice(change);
    write.run([keys.changes], "SPUBLISH", keys.changes, notice);
    if (closes || (!Buffer.isBuffer(change) && change.kind === "deleted")) {
      write.run([keys.ends], "SPUBLISH", keys.ends, notice);
    }
  }

  /**
   * Runs attempts until one's write applies (or it has nothing to write); `decided`: the first one's
   * decision, made already (on the stream as last written here, see decideOnWritten).
   */
  private async decide<T>(name: string, attempt: () => Promise<Decision<T>>, decided?: Decision<T>): Promise<T> {
    let next = decided;
    for (let attempts = 1; ; attempts++) {
      const { result, write, after, appended, appendNumber } = next ?? (await attempt());
      next = undefined;
      if (write === undefined) return result;
      if (await this.applyAppend(name, write, appended, appendNumber)) {
        if (after !== undefined) this.keepWritten(after);
        return result;
      }
      if (attempts >= MAX_ATTEMPTS) {
        throw new BackendUnavailableError("redis", new Error(`the stream changed under ${attempts} attempts`));
      }
      // Other processes write the same stream: step aside a random while, longer each time.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempts, 200)));
    }
  }

  /**
   * Applies a write; an append it makes is told to this process's watchers as soon as Redis says it
   * applied, not a pub/sub round trip later (see stream-watchers.ts). Only while the pub/sub
   * connection is up: the notice that the watchers then also hear is what is not told twice.
   */
  private applyAppend(
    name: string,
    write: CheckedWrite,
    appended: Decision<unknown>["appended"],
    number: number | undefined,
  ): Promise<boolean> {
    const watchers = appended === undefined || !this.listening ? undefined : this.watched.get(name)?.watchers;
    if (watchers === undefined || appended === undefined || number === undefined) return this.apply(write);
    watchers.sending(number);
    // Promise reactions, not an async function: an append in flight holds less while it waits
    // (under load it waits long enough for what it holds to outlive the young generation).
    return this.apply(write).then(
      (applied) => {
        watchers.settled(number, appended, applied);
        return applied;
      },
      (error: unknown) => {
        watchers.settled(number, appended, false);
        throw error;
      },
    );
  }

  /** Whether the write applied: false if a record it checks had changed (nothing was written). */
  private apply(write: CheckedWrite): Promise<boolean> {
    const sha = this.checkedWriteSha;
    if (sha === undefined) {
      return this.scriptSha.then((known) => {
        this.checkedWriteSha = known;
        return this.apply(write);
      });
    }
    return runScriptWith(
      (args) => this.command<number>(args),
      CHECKED_WRITE_SCRIPT,
      write.arguments(["EVALSHA", sha]),
    ).then(isOne);
  }

  private serialized<T>(name: string, task: () => Promise<T>): Promise<T> {
    const queued = this.queues.get(name);
    // Nothing queued, the usual case (an answer appends a chunk once the last one is answered):
    // started at once, not a tick later; the queue empties as soon as the task settles.
    const run = queued === undefined ? task() : queued.then(task, task);
    let done: Promise<void> | undefined;
    const release = () => {
      if (this.queues.get(name) === done) this.queues.delete(name);
    };
    done = run.then(release, release);
    this.queues.set(name, done);
    return run;
  }

  private subscribe(name: string, interest: WatchInterest): Watched {
    const keys = streamKeys(this.prefix, name);
    const watched: Watched = {
      name,
      keys,
      interest,
      watchers: new StreamWatchers(),
      onNotice: (notice) => {
        // Appends made here are told as Redis answers them (see applyAppend): not twice. The `ends`
        // channel carries no append but a close, which only its own channel's watchers were told.
        const own = interest === "ends" ? undefined : ownAppendNumber(notice, this.ownPrefix);
        if (own !== undefined && watched.watchers.toldAlready(own)) return;
        const change = decodeNotice(notice);
        if (change !== undefined) watched.watchers.heard(change, own);
      },
      linger: undefined,
    };
    this.subscriptions(interest).set(name, watched);
    // Offline queue on this connection: while Redis is away the subscription waits for it.
    this.options.subscriber.sSubscribe(this.channelOf(watched), watched.onNotice, true).then(
      () => this.resync(watched),
      () => {
        // The client was closed: nothing more will arrive.
      },
    );
    return watched;
  }

  private channelOf(watched: Watched): string {
    return watched.interest === "ends" ? watched.keys.ends : watched.keys.changes;
  }

  private unsubscribe(watched: Watched): void {
    const subscriptions = this.subscriptions(watched.interest);
    if (subscriptions.get(watched.name) !== watched || watched.watchers.listeners.size > 0) return;
    subscriptions.delete(watched.name);
    this.options.subscriber.sUnsubscribe(this.channelOf(watched), watched.onNotice, true).catch(() => {
      // Gone with the connection anyway: a lost connection holds no subscription.
    });
  }

  /** Tells a subscription's watchers the stream's state, as it is once they can hear every change. */
  private async resync(watched: Watched): Promise<void> {
    if (watched.watchers.listeners.size === 0) return;
    let change: LogChange = DELETED;
    try {
      const stream = await this.load(watched.name);
      if (stream !== undefined && !stream.record.deleted) {
        change = { kind: "appended", from: stream.record.tail, entries: [], record: stream.record };
      }
    } catch {
      // Unreachable: `deleted`, so that readers read again (and answer 503) rather than wait.
    }
    watched.watchers.tell(change);
  }

  private lost(): void {
    if (!this.listening) return;
    this.listening = false;
    // Changes made while the connection is down are never heard of: readers must not wait for them.
    for (const { watchers } of this.allWatched()) {
      watchers.forgetOwn();
      watchers.tell(DELETED);
    }
  }

  private reconnected(): void {
    if (this.listening) return;
    this.listening = true;
    for (const watched of this.allWatched()) void this.resync(watched);
  }

  /**
   * Sends a command that fails (and the request answers 503) if Redis has not answered within about
   * `timeoutMs` (see CommandDeadline: node-redis's own timeout ends once the command is written).
   */
  private command<T>(args: Argument[], typeMapping?: typeof AS_BUFFERS): Promise<T> {
    let sent: Promise<unknown>;
    try {
      const options = { timeout: 0 };
      sent = this.options.commands.sendCommand(args, typeMapping ? { ...options, typeMapping } : options);
    } catch (error) {
      return Promise.reject(unavailable(error));
    }
    return this.deadline.race(sent).then(undefined, (error: unknown) => {
      throw unavailable(error);
    }) as Promise<T>;
  }
}

/** What a failed command throws: an error reply is Redis answering (a bug here, not an outage). */
function unavailable(error: unknown): unknown {
  return error instanceof ErrorReply ? error : new BackendUnavailableError("redis", error);
}

const isOne = (reply: unknown) => reply === 1;

function bufferOf(entry: Uint8Array): Buffer {
  return Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);
}
