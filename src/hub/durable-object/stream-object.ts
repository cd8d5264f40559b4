/**
 * A durable stream on Cloudflare Workers (the Durable Streams log, src/hub/log.ts): one Durable
 * Object per stream, named by the stream's name, holding its record and its entries in SQLite.
 * Every decision is made by the rules in stream-rules.ts, as the in-memory log makes them, and
 * applied in one synchronous step (an object's `sql.exec` calls are synchronous, and no other
 * request runs in between), which is what the protocol asks of appends: validation and write
 * serialized per stream.
 *
 * Forks copy: the fork's object reads its source's entries up to the fork position from the
 * source's object (in pages), then has the source count it. The source counts its forks by
 * instance, so a deletion while forks live only marks it gone (410); the last fork to go releases
 * it and it is removed, and so on up the chain. A release the source could not take is kept and
 * sent again from an alarm, as is the removal of a stream whose TTL or expiry passed while nobody
 * asked for it (memory sweeps those; this object has its alarm). A fork being created owes its
 * release before it asks to be counted, until its first write: a crash in between gives the count
 * back from the alarm.
 *
 * Watchers are the Worker requests that hold an SSE or long-poll response: each opens a WebSocket
 * here, accepted with the Hibernation API, and gets every change (log-change.ts). Between changes
 * the object holds no request, so it can be evicted and bills no duration; it needs only its
 * storage and the sockets after waking. See docs/architecture.md ("Workers").
 */
import { DurableObject } from "cloudflare:workers";
import { readConfig, streamLimits } from "../../config.ts";
import { channelOfStream } from "../channel-stream-name.ts";
import type {
  AppendRequest,
  AppendResult,
  CreateRequest,
  CreateResult,
  DeleteResult,
  ForkRequest,
  LogChange,
  ReadResult,
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
  type ReadPosition,
  type StreamLimits,
  type StreamRecord,
} from "../stream-rules.ts";
import type { ChannelObject } from "./channel-object.ts";
import { type PendingRelease, SqlStreamStore } from "./stream-store.ts";
import { StreamWatchers } from "./stream-watchers.ts";

export interface StreamEnv {
  STREAMS: DurableObjectNamespace<StreamObject>;
  /** A fork's source may be a channel's stream (`channels/<name>`), held by the channel's object. */
  CHANNELS: DurableObjectNamespace<ChannelObject>;
  [setting: string]: unknown;
}

/** What a source answers a fork that asks to be counted. */
export type ForkCount = "counted" | "not-found" | "gone";

// A fork copies its source's entries in pages of about this size, far below what one RPC may carry.
const FORK_PAGE_BYTES = 4 * 1024 * 1024;
// A release its source did not take (it was restarting, say) is sent again after this long.
const RELEASE_RETRY_MS = 10_000;

const DELETED: LogChange = { kind: "deleted" };

export class StreamObject extends DurableObject<StreamEnv> {
  private readonly store: SqlStreamStore;
  private readonly limits: StreamLimits;
  private readonly watchers: StreamWatchers;
  // One create at a time: a fork's waits on its source's object, and meanwhile a second PUT of the
  // same name must not start another stream.
  private creating: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: StreamEnv) {
    super(ctx, env);
    this.store = new SqlStreamStore(ctx.storage);
    this.limits = streamLimits(readConfig(env));
    this.watchers = new StreamWatchers(ctx);
  }

  create(request: CreateRequest): Promise<CreateResult> {
    const result = this.creating.then(() => this.createNow(request));
    this.creating = result.catch(() => undefined);
    return result;
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    const now = Date.now();
    const record = await this.live(now);
    if (record === undefined) return { kind: "not-found" };
    if (record.deleted) return { kind: "gone" };
    const plan = planAppend(record, request, this.limits);
    if (plan.kind === "write") {
      const from = record.tail;
      applyWrite(record, plan, now);
      this.store.write(from, plan.entries, record);
      this.notify({ kind: "appended", from, entries: plan.entries, record });
    } else if (plan.kind === "no-op") {
      this.touch(record, now);
    }
    return appendResultOf(record, plan);
  }

  async read(position: ReadPosition, maxBytes: number): Promise<ReadResult> {
    const now = Date.now();
    const record = await this.live(now);
    if (record === undefined) return { kind: "not-found" };
    if (record.deleted) return { kind: "gone" };
    this.touch(record, now);
    return this.store.read(record, position, maxBytes);
  }

  async head(): Promise<StreamLookup> {
    const record = await this.live(Date.now());
    if (record === undefined) return { kind: "not-found" };
    return record.deleted ? { kind: "gone" } : { kind: "found", record };
  }

  async delete(): Promise<DeleteResult> {
    const record = await this.live(Date.now());
    if (record === undefined) return "not-found";
    if (record.deleted) return "gone";
    if (record.forks > 0) {
      // Forks copied what they inherited; the name stays taken (410, and 409 to a PUT) until they go.
      record.deleted = true;
      this.store.save(record);
      this.notify(DELETED);
    } else {
      await this.remove(record);
    }
    return "deleted";
  }

  /** For a fork being created: this stream's entries in [from, to), if it is still `instance`. */
  forkEntries(instance: string, from: number, to: number, maxBytes: number): Uint8Array[] | undefined {
    const record = this.store.record();
    if (record === undefined || record.instance !== instance) return undefined;
    return this.store.entries(from, to, maxBytes);
  }

  /** A fork of this stream (as `instance`) was made: count it, unless this stream went meanwhile. */
  async countFork(instance: string, forkInstance: string): Promise<ForkCount> {
    const record = await this.live(Date.now());
    if (record === undefined || record.instance !== instance) return "not-found";
    if (record.deleted) return "gone";
    this.ctx.storage.transactionSync(() => {
      if (this.store.addFork(forkInstance)) record.forks = this.store.forkCount();
      this.store.save(record);
    });
    return "counted";
  }

  /** A fork of this stream went: forget it, and go too if this stream was deleted and it was the last. */
  async releaseFork(instance: string, forkInstance: string): Promise<void> {
    const record = this.store.record();
    if (record === undefined || record.instance !== instance) return;
    this.ctx.storage.transactionSync(() => {
      if (this.store.removeFork(forkInstance)) record.forks = this.store.forkCount();
      this.store.save(record);
    });
    if (record.deleted && record.forks === 0) await this.remove(record);
  }

  /** A watcher's WebSocket upgrade (from a Worker request holding an SSE or long-poll response). */
  override fetch(request: Request): Response {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    return this.watchers.accept(this.snapshot());
  }

  /** Watchers send nothing; the runtime still wants the handlers of a hibernatable socket. */
  override webSocketMessage(): void {}

  override webSocketClose(socket: WebSocket, code: number): void {
    this.watchers.closed(socket, code);
  }

  override webSocketError(): void {}

  override async alarm(): Promise<void> {
    // A create in flight settles what it owes (its fork's count) first.
    await this.creating;
    await this.sendReleases();
    const record = await this.live(Date.now());
    if (record !== undefined) await this.wakeAt(expiryOf(record));
  }

  private async createNow(request: CreateRequest): Promise<CreateResult> {
    const now = Date.now();
    const existing = await this.live(now);
    if (existing !== undefined) {
      if (existing.deleted) return { kind: "conflict", message: "it was deleted while forks of it live" };
      const conflict = createConflict(existing, request);
      return conflict === undefined ? { kind: "exists", record: existing } : { kind: "conflict", message: conflict };
    }

    const record = newRecord(request, now, crypto.randomUUID());
    // Rows of an earlier stream of this name, or of a fork's copy that never finished.
    this.store.clearEntries();
    let entries = request.entries;
    if (request.fork !== null) {
      const rest = await this.copyFork(record, request, request.fork);
      if (!Array.isArray(rest)) {
        this.store.clearEntries();
        return rest;
      }
      entries = [...rest, ...request.entries];
    }
    const tooLarge = overLimit(record, entries, this.limits);
    if (tooLarge !== undefined) {
      this.store.clearEntries();
      return { kind: "too-large", message: tooLarge };
    }
    let counted: PendingRelease | undefined;
    if (record.fork !== null) {
      // Owed before it is asked for: should this object crash between the count and the write below,
      // its alarm gives the count back, and the source is not held by a fork that never was.
      counted = { source: record.fork.from, sourceInstance: record.fork.source, forkInstance: record.instance };
      this.store.owe(counted);
      await this.wakeAt(Date.now() + RELEASE_RETRY_MS);
      const answer = await this.source(counted.source).countFork(counted.sourceInstance, counted.forkInstance);
      if (answer !== "counted") {
        this.store.released(counted);
        this.store.clearEntries();
        return answer === "gone"
          ? { kind: "conflict", message: "its source was deleted" }
          : { kind: "fork-source-missing" };
      }
    }
    const from = record.tail;
    for (const entry of entries) record.bytes += entry.byteLength;
    record.tail += entries.length;
    record.closed = request.closed;
    this.store.write(from, entries, record, counted);
    await this.wakeAt(expiryOf(record));
    this.notify({ kind: "created", record });
    return { kind: "created", record };
  }

  /**
   * Copies a fork's inherited entries from its source's object into this one's storage (before
   * any record exists here, so no reader sees them) and fills in the fork's record (tail and bytes:
   * what was copied). Returns what is still to be stored (the part of the entry at the fork
   * position, for a sub-offset), or why it cannot be a fork: decided as the in-memory log does.
   */
  private async copyFork(
    record: StreamRecord,
    request: CreateRequest,
    fork: ForkRequest,
  ): Promise<Uint8Array[] | CreateResult> {
    const source = this.source(fork.from);
    const lookup = await source.head();
    if (lookup.kind === "not-found") return { kind: "fork-source-missing" };
    if (lookup.kind === "gone") return { kind: "conflict", message: "its source was deleted" };
    const from = lookup.record;
    const planned = planFork(record, from, request, fork);
    if (planned.kind !== "fork") return planned;
    const { position } = planned;
    const rest: Uint8Array[] = [];
    if (fork.subOffset > 0) {
      const prefix = forkPrefix(record, (await source.forkEntries(from.instance, position, position + 1, 0))?.[0]);
      if (!(prefix instanceof Uint8Array)) return prefix;
      rest.push(prefix);
    }
    while (record.tail < position) {
      const page = await source.forkEntries(from.instance, record.tail, position, FORK_PAGE_BYTES);
      // Gone (or made anew) while it was copied.
      if (page === undefined || page.length === 0) return { kind: "fork-source-missing" };
      const tooLarge = overLimit(record, page, this.limits);
      if (tooLarge !== undefined) return { kind: "too-large", message: tooLarge };
      this.store.putEntries(record.tail, page);
      record.tail += page.length;
      for (const entry of page) record.bytes += entry.byteLength;
    }
    return rest;
  }

  /** The stream's record, unless there is none or it expired (then it is removed, as if deleted). */
  private async live(now: number): Promise<StreamRecord | undefined> {
    const record = this.store.record();
    if (record === undefined || !isExpired(record, now)) return record;
    await this.remove(record);
    return undefined;
  }

  /** A read or write resets a sliding TTL; only a stream that has one needs that stored. */
  private touch(record: StreamRecord, now: number): void {
    record.touchedAt = now;
    if (record.ttlSeconds !== null) this.store.save(record);
  }

  /** Removes the stream, then releases its source if it was a fork (and so on up the chain). */
  private async remove(record: StreamRecord): Promise<void> {
    const fork = record.fork;
    this.store.remove(
      fork === null ? undefined : { source: fork.from, sourceInstance: fork.source, forkInstance: record.instance },
    );
    this.notify(DELETED);
    await this.sendReleases();
  }

  private async sendReleases(): Promise<void> {
    let failed = false;
    for (const release of this.store.pendingReleases()) {
      try {
        await this.source(release.source).releaseFork(release.sourceInstance, release.forkInstance);
        this.store.released(release);
      } catch (error) {
        failed = true;
        console.error(`edge-sse: releasing the source ${release.source} of a removed fork failed; retrying`, error);
      }
    }
    if (failed) await this.wakeAt(Date.now() + RELEASE_RETRY_MS);
  }

  /** Sets the alarm to `at` unless it is set earlier already. */
  private async wakeAt(at: number | undefined): Promise<void> {
    if (at === undefined) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  private snapshot(): LogChange {
    const record = this.store.record();
    if (record === undefined || record.deleted || isExpired(record, Date.now())) return DELETED;
    return { kind: "appended", from: record.tail, entries: [], record };
  }

  private notify(change: LogChange): void {
    this.watchers.notify(change);
  }

  private source(name: string): DurableObjectStub<StreamObject> | DurableObjectStub<ChannelObject> {
    const channel = channelOfStream(name);
    if (channel !== undefined) return this.env.CHANNELS.get(this.env.CHANNELS.idFromName(channel));
    return this.env.STREAMS.get(this.env.STREAMS.idFromName(name));
  }
}

/** When a stream's TTL or expiry time passes, as things stand (a later touch moves a TTL on). */
function expiryOf(record: StreamRecord): number | undefined {
  const times: number[] = [];
  if (record.expiresAt !== null) times.push(Date.parse(record.expiresAt));
  if (record.ttlSeconds !== null) times.push(record.touchedAt + record.ttlSeconds * 1000);
  return times.length === 0 ? undefined : Math.min(...times);
}
