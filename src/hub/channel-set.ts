/**
 * Several channels in one SSE stream, with one cursor over all of them, on any Hub.
 *
 * Each channel is followed with the backend's own replay-then-live hand-over and `history-truncated`,
 * already exact on every backend: `hub.subscribe(channel, { after })` where the hub has it (memory,
 * Redis), which hands over each channel's events as they are, the same objects for every subscriber;
 * else the backend's single-channel stream (`hub.stream(channel, { after, part: true })`, Durable
 * Objects), taken over and parsed. Either way each event is re-sent into one stream. Nothing here
 * knows a backend or what a channel's events carry.
 *
 * On the wire (README, "Several channels in one stream"):
 * - a channel's event of type T (`message` when it names none, per WHATWG HTML §9.2.6 "dispatch the
 *   event") comes as `event: <channel>/T`: `news/message`, `news/presence`, `news/history-truncated`.
 *   Channel names are `[A-Za-z0-9_-]`, so the first `/` ends the channel; the stream's own events
 *   (`cursor`, `token-expired`, `error`) have no `/` and cannot be taken for a channel's.
 * - every event that moves a channel on carries `id: <cursor>`, the last id sent of every channel:
 *   `news:1733480000000001,chat:17`. An `EventSource` sends it back as `Last-Event-ID`, and the
 *   stream resumes each channel after its own position, so nothing is missed or sent twice.
 * - the stream opens with `event: cursor`, `id: <cursor>`: the positions it starts from, read before
 *   any channel is followed, so a client that leaves before any message still resumes exactly.
 *   It has data (the positions as JSON) because eventsource-parser 3.1, and so the `eventsource`
 *   package and edge-sse/client, drop an event with no `data:` line without taking its id.
 */
import { createParser } from "eventsource-parser";
import { concatBytes } from "../sse/encode.ts";
import {
  type AnyEvents,
  type EventOf,
  type EventSink,
  encodeEvent,
  encodeRetry,
  eventStream,
  type OpenStreams,
  type SseStream,
  type StreamDeadline,
  type StreamTransport,
  takeOver,
} from "../sse/index.ts";
import type { ChannelSubscriber, StreamSettings } from "./channel.ts";
import type { Hub, SubscribeOptions, Subscription } from "./hub.ts";

/** The first event of a multi-channel stream: `data: {"<channel>": <position>, …}`, `id:` its cursor. */
export const CURSOR_EVENT = "cursor";

// A channel name is at most 64 characters and an id at most 16 digits (see src/app/messages.ts).
const CURSOR_ENTRY = /^([A-Za-z0-9_-]{1,64}):(\d{1,16})$/;
const MAX_ENTRY_LENGTH = 64 + 1 + 16;

/** A `Last-Event-ID` that is not a cursor of this stream's channels. */
export class CursorError extends Error {
  override readonly name = "CursorError";
}

/**
 * The positions a cursor holds, each channel at most once, each one of `channels`: anything else is
 * a `CursorError`, checked before any backend is asked. A channel the cursor leaves out starts at
 * its newest message, as on a first connect (a client that added a channel to its URL).
 */
export function parseCursor(cursor: string, channels: readonly string[]): Map<string, number> {
  // Bounded by the stream's channels, themselves bounded by MAX_CHANNELS_PER_STREAM.
  const longest = channels.length * (MAX_ENTRY_LENGTH + 1) - 1;
  if (cursor.length > longest) {
    throw new CursorError(`a cursor of ${channels.length} channel(s) is at most ${longest} characters`);
  }
  const positions = new Map<string, number>();
  for (const entry of cursor.split(",")) {
    const match = CURSOR_ENTRY.exec(entry);
    if (match === null) throw new CursorError(`'${entry.slice(0, 90)}' is not <channel>:<message id>`);
    const [, channel = "", digits = ""] = match;
    const position = Number(digits);
    if (!Number.isSafeInteger(position)) throw new CursorError(`${digits} is not a message id`);
    if (!channels.includes(channel)) throw new CursorError(`channel ${channel} is not one of this stream's`);
    if (positions.has(channel)) throw new CursorError(`channel ${channel} appears twice`);
    positions.set(channel, position);
  }
  return positions;
}

export interface ChannelSetOptions {
  /** The channels, each once, already authorized. */
  channels: readonly string[];
  /** The client's cursor (`parseCursor`); undefined on a first connect. */
  cursor: Map<string, number> | undefined;
  request: Request;
  /** Ends the stream when it aborts (workerd's only notice of a departed client). */
  signal: AbortSignal | undefined;
  client?: string | undefined;
  /** Also send each channel's subscriber count, as `<channel>/presence`. */
  presence?: boolean | undefined;
  /** The token's expiry: the whole stream ends then, with its event. */
  endsAt?: StreamDeadline | undefined;
  /** Where the stream is counted and capped once, whatever its channels, and ended at shutdown. */
  openStreams?: OpenStreams | undefined;
  settings: StreamSettings;
}

/**
 * The SSE response that follows every channel of `channels` for one client. Resolves once every
 * channel is followed, so a backend's refusal (a cap, Redis down) is the answer's status, and
 * nothing is left open behind it.
 */
export async function channelSetStream(hub: Hub, options: ChannelSetOptions): Promise<Response> {
  const { channels, cursor } = options;
  // Read before following: whatever is published from here on comes through the replay after it.
  const starts = await Promise.all(
    channels.map(async (channel) => cursor?.get(channel) ?? (await hub.channelStats(channel)).latestId),
  );
  const opened = await Promise.allSettled(
    channels.map((channel, i) => {
      const subscribe = { after: starts[i], client: options.client, presence: options.presence };
      return hub.subscribe !== undefined
        ? hub.subscribe(channel, subscribe)
        : subscribeByStream(hub, channel, subscribe, options.request);
    }),
  );
  const failed = opened.find((result) => result.status === "rejected");
  if (failed !== undefined) {
    for (const result of opened) if (result.status === "fulfilled") result.value.stop();
    throw failed.reason;
  }
  const subscriptions = opened.map((result) => (result as PromiseFulfilledResult<Subscription>).value);
  const set = new ChannelSet(channels, starts, subscriptions, options.settings);
  return eventStream(set.source, {
    ...options.settings,
    signal: options.signal,
    openStreams: options.openStreams,
    client: options.client,
    kind: "feed",
    channel: channels.join(","),
    endsAt: options.endsAt,
    // Runs however the stream ends, also if it never started (a HEAD, a client gone before the first read).
    onClose: set.close,
  });
}

/** A channel's event as this stream gets it: from the hub as stored, or parsed from a channel's stream. */
interface Item {
  readonly id?: number | string | undefined;
  /** Its type; null or undefined: `message`. */
  readonly event?: string | null | undefined;
  readonly data: string;
}

/** A channel's message: an item with an id, which moves the cursor. */
type Message = Item & { readonly id: number | string };

const NO_BYTES = new Uint8Array(0);

/**
 * Where a multi-channel stream is: the last id sent of each channel. Immutable and shared: streams
 * of the same channels at the same positions hold the same object, and its step by a message (the
 * next positions, with that message's bytes and cursor) is made by the first of them and reused by
 * the others, so a caught-up subscriber costs a comparison per message, however many channels it
 * follows. A stream whose positions differ pays the encoding, then shares again once they agree
 * (see `lastStep`).
 */
class Positions {
  /** The message that led here, as sent: `event: <channel>/<type>`, `id: <cursor>`, its data. */
  bytes: Uint8Array = NO_BYTES;
  private text: string | undefined;
  // The one step from here made so far, by the message of channel `stepIndex` (a one-entry cache:
  // every stream at these positions gets the same next message, unless one has messages waiting).
  private stepMessage: Message | undefined;
  private stepIndex = -1;
  private stepTo: Positions | undefined;
  /** The last chunk written from here (see `ChannelSet.flush`): the positions it stepped through, and its bytes. */
  chunkSteps: readonly Positions[] | undefined;
  chunkBytes: Uint8Array = NO_BYTES;

  constructor(
    readonly channels: readonly string[],
    readonly ids: readonly (number | string)[],
  ) {}

  /** `a:<last id of a>,b:<last id of b>`: the stream's `id:`, sent back as `Last-Event-ID`. */
  get cursor(): string {
    if (this.text === undefined) {
      let text = "";
      for (let n = 0; n < this.ids.length; n++) text += `${n > 0 ? "," : ""}${this.channels[n]}:${this.ids[n]}`;
      this.text = text;
    }
    return this.text;
  }

  /** The positions after channel `index`'s `message`; their `bytes` are that message as sent. */
  after(index: number, message: Message): Positions {
    if (this.stepMessage === message && this.stepIndex === index) return this.stepTo as Positions;
    const ids = this.ids.slice();
    ids[index] = message.id;
    let next = new Positions(this.channels, ids);
    const cursor = next.cursor;
    if (lastStep.message === message && lastStep.to.cursor === cursor) {
      next = lastStep.to;
    } else {
      const event = `${this.channels[index]}/${message.event ?? "message"}`;
      next.bytes = encodeEvent({ event, id: cursor, data: message.data });
      lastStep = { message, to: next };
    }
    this.stepMessage = message;
    this.stepIndex = index;
    this.stepTo = next;
    if (this === lastStart) lastStart = undefined;
    return next;
  }
}

// The last step encoded, whoever made it: a stream whose positions reached the same cursor by
// another way (it started elsewhere, it waited) takes these positions on, and shares from then on.
// It holds the newest positions made, so it keeps no chain of older ones alive.
let lastStep: { message: Message | undefined; to: Positions } = { message: undefined, to: new Positions([], []) };
// The last starting positions: streams of the same channels opened at the same positions start on one
// object. Forgotten at its first step (a later stream starts past it), so it keeps no chain alive.
let lastStart: Positions | undefined;

function startingPositions(channels: readonly string[], ids: readonly number[]): Positions {
  const positions = new Positions(channels, ids);
  if (lastStart !== undefined && lastStart.cursor === positions.cursor) return lastStart;
  lastStart = positions;
  return positions;
}

/**
 * The channels, re-sent into one sink. What the channels hand over waits in their parts until the
 * end of the current task (one microtask for every set), and is then written as one chunk: the memory and Redis hubs
 * send every channel's run of a turn in one task (EndOfTurn), so a subscriber of K channels costs one
 * write per turn, not K. Subscribers at the same
 * positions that are sent the same messages share that chunk too (`Positions.chunkBytes`).
 */
class ChannelSet {
  private at: Positions;
  private readonly parts: ChannelPart[];
  private sink: EventSink | undefined;
  private isClosed = false;
  private nextToDrain = 0;
  private flushing = false;

  constructor(
    channels: readonly string[],
    starts: readonly number[],
    subscriptions: readonly Subscription[],
    settings: StreamSettings,
  ) {
    this.at = startingPositions(channels, starts);
    const limits = {
      maxBytes: settings.maxBufferedBytes,
      minWeight: Math.ceil(settings.maxBufferedBytes / settings.maxBufferedEvents),
    };
    this.parts = subscriptions.map(
      (subscription, i) => new ChannelPart(this, channels[i] as string, i, subscription, limits),
    );
    this.gathers = subscriptions.length > 1;
  }

  /** Whether something waits for the end of this task. */
  get flushPending(): boolean {
    return this.flushing;
  }

  get closed(): boolean {
    return this.isClosed || this.sink?.closed === true;
  }

  /**
   * Whether to gather what the channels hand over in a task into one write: when there is more than
   * one channel, and the channel's subscription says others' may come in this task (`Subscription.gathers`).
   */
  readonly gathers: boolean;

  readonly source = (sink: EventSink) => {
    this.sink = sink;
    const at = this.at;
    const positions = Object.fromEntries(at.channels.map((channel, i) => [channel, at.ids[i]]));
    sink.send({ event: CURSOR_EVENT, id: at.cursor, data: JSON.stringify(positions) });
    for (const part of this.parts) if (!sink.closed) part.start();
  };

  /** Ends every channel's subscription: the outer stream ended (client gone, too slow, shutdown, token expired). */
  readonly close = () => {
    this.isClosed = true;
    for (const part of this.parts) part.stop();
  };

  /** A part has something waiting: it is written at the end of this task, with every other set's. */
  soon(): void {
    if (this.flushing) return;
    this.flushing = true;
    flushAtEndOfTask(this);
  }

  /**
   * Writes what every part holds as one chunk, if it fits the client's queue; else event by event,
   * as far as it fits (`drain`). The positions move only as messages are written, and each message's
   * cursor is the positions after it: an event of another channel sent while this one waits never
   * carries a position this client has not been sent.
   */
  readonly flush = () => {
    this.flushing = false;
    const sink = this.sink;
    if (sink === undefined || sink.closed) return;
    const parts = this.parts;
    const first = this.nextToDrain % parts.length;
    const from = this.at;
    // First pass: step through what waits; a subscriber that steps as the last one from here did
    // (all of them, once caught up) writes the chunk it made, and allocates nothing.
    const known = from.chunkSteps;
    let at = from;
    let count = 0;
    let shared = true;
    let same = known !== undefined;
    for (let n = 0; n < parts.length; n++) {
      const part = parts[(first + n) % parts.length] as ChannelPart;
      for (const item of part.waiting) {
        if (item.id === undefined)
          shared = false; // a notice is this stream's own
        else {
          at = at.after(part.index, item as Message);
          if (same && known?.[count] !== at) same = false;
        }
        count++;
      }
    }
    if (count === 0) return;
    let chunk: Uint8Array;
    if (shared && same && known?.length === count) chunk = from.chunkBytes;
    else if (count === 1 && shared) chunk = at.bytes;
    else {
      // Second pass: the chunk (the steps are cached on the positions by now).
      const steps: Positions[] = [];
      const chunks: Uint8Array[] = [];
      let length = 0;
      let to = from;
      for (let n = 0; n < parts.length; n++) {
        const part = parts[(first + n) % parts.length] as ChannelPart;
        for (const item of part.waiting) {
          let bytes: Uint8Array;
          if (item.id === undefined) bytes = noticeBytes(part, item);
          else {
            to = to.after(part.index, item as Message);
            bytes = to.bytes;
            steps.push(to);
          }
          chunks.push(bytes);
          length += bytes.byteLength;
        }
      }
      chunk = chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(chunks, length);
      if (shared) {
        from.chunkSteps = steps;
        from.chunkBytes = chunk;
      }
    }
    if (!sink.fits(chunk)) {
      this.drain(sink);
      return;
    }
    this.at = at;
    sink.write(chunk);
    for (const part of parts) part.sent();
  };

  /**
   * Writes one channel's item if it fits the client's queue; false if it must wait, to be sent when
   * the client has read some. For the slow path (`drain`): a client whose queue is nearly full.
   */
  trySend(part: ChannelPart, item: Item): boolean {
    const sink = this.sink;
    if (sink === undefined || sink.closed) return true; // dropped: the stream is over
    if (item.id === undefined) {
      const bytes = noticeBytes(part, item);
      if (!sink.fits(bytes)) return this.waitForRead(sink);
      sink.write(bytes);
      return true;
    }
    const next = this.at.after(part.index, item as Message);
    if (!sink.fits(next.bytes)) return this.waitForRead(sink);
    this.at = next;
    sink.write(next.bytes);
    return true;
  }

  /** A channel could not go on (its stream ended on its own, or outran the client): so does this stream. */
  partEnded(retry: number | undefined): void {
    const sink = this.sink;
    if (this.isClosed || sink === undefined || sink.closed) return;
    // Its later retry: (a Durable Object subscription that cannot reconnect) says when to come back.
    if (retry !== undefined) sink.write(encodeRetry(retry));
    sink.close();
  }

  /** Event by event, each channel in turn, as far as the client's queue allows. */
  private drain(sink: EventSink): void {
    const parts = this.parts;
    const first = this.nextToDrain % parts.length;
    for (let n = 0; n < parts.length && !sink.closed; n++) parts[(first + n) % parts.length]?.drain();
  }

  private waitForRead(sink: EventSink): false {
    sink.onPull = this.pulled;
    return false;
  }

  private readonly pulled = () => {
    (this.sink as EventSink).onPull = undefined;
    // Each read starts with the next channel, so that one busy channel cannot keep the others waiting.
    this.nextToDrain++;
    this.flush();
  };
}

// The sets with something waiting, all written in one microtask at the end of the task: one promise
// reaction per task, not one per set (on Bun that reaction was about a ninth of a caught-up 5-channel
// set's CPU in memory). A promise's reaction, not queueMicrotask: Node's wraps each callback in an
// AsyncResource, which cost about 2 µs per subscriber and turn (Node 20, bench/channel-set-cost.ts on Redis).
let waitingSets: ChannelSet[] = [];
const RESOLVED = Promise.resolve();

function flushAtEndOfTask(set: ChannelSet): void {
  if (waitingSets.length === 0) void RESOLVED.then(flushWaitingSets);
  waitingSets.push(set);
}

function flushWaitingSets(): void {
  // A set that gets more to write while these flush (a replay resumed by a write) waits for the next.
  const sets = waitingSets;
  waitingSets = [];
  let failure: { error: unknown } | undefined;
  for (const set of sets) {
    // One set's failure must not leave the others' clients waiting: it is thrown after them.
    try {
      set.flush();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}

/** An event of a channel without an id (presence, `history-truncated`): no cursor, encoded per stream. */
function noticeBytes(part: ChannelPart, item: Item): Uint8Array {
  return encodeEvent({ event: `${part.channel}/${item.event ?? "message"}`, data: item.data });
}

/** What one whole chunk holds: a channel's stream writes whole events (`EventSink.write`). */
interface ParsedChunk {
  events: Item[];
  retry: number | undefined;
}

/**
 * Chunks parsed so far, by the chunk itself: a notice (presence, `history-truncated`) or a channel
 * stream's chunk written to every subscriber alike is parsed once for all of them.
 */
const parsedChunks = new WeakMap<Uint8Array, ParsedChunk>();
let parsing: ParsedChunk = { events: [], retry: undefined };
const chunkParser = createParser({
  onEvent: (event) => parsing.events.push(event),
  onRetry: (retry) => {
    parsing.retry = retry;
  },
});
const chunkDecoder = new TextDecoder();

function parseChunk(chunk: Uint8Array): ParsedChunk {
  let parsed = parsedChunks.get(chunk);
  if (parsed === undefined) {
    parsed = parsing = { events: [], retry: undefined };
    chunkParser.feed(chunkDecoder.decode(chunk));
    // A chunk is whole events: nothing of it may be left for the next one.
    chunkParser.reset();
    parsedChunks.set(chunk, parsed);
  }
  return parsed;
}

// What an event weighs beyond its data while it waits (its field names and cursor, roughly).
const EVENT_OVERHEAD_BYTES = 128;

/**
 * One channel of the stream: the subscriber its subscription writes to. Events wait here until the
 * stream writes them, weighed as a single stream weighs a chunk (a run handed over at once weighs its
 * bytes, at least an equal share of the byte limit per allowed event), so a replay pauses (it asks
 * `fits` first) until the client reads, and a live channel that outruns the client past
 * MAX_BUFFERED_BYTES or MAX_BUFFERED_EVENTS ends the whole stream, as it would end a single stream.
 */
class ChannelPart implements ChannelSubscriber {
  onPull: (() => void) | undefined = undefined;
  /** What waits to be written, oldest first. */
  readonly waiting: Item[] = [];
  private waitingWeight = 0;
  private retries = 0;
  private retry: number | undefined;
  private stopped = false;
  /** Set by a subscription that reads a body: called when nothing waits any more. */
  wake: (() => void) | undefined;

  constructor(
    private readonly set: ChannelSet,
    readonly channel: string,
    readonly index: number,
    private readonly subscription: Subscription,
    private readonly limits: { maxBytes: number; minWeight: number },
  ) {}

  get closed(): boolean {
    return this.stopped || this.set.closed;
  }

  /** The weight of what waits for the client (see `StreamTransport.queued`). */
  get queued(): number {
    return this.waitingWeight;
  }

  start(): void {
    this.subscription.start(this);
  }

  /** The outer stream ended: so does this channel's subscription. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    this.subscription.stop();
  }

  take(messages: readonly Message[]): boolean {
    if (this.closed) return false;
    // Nothing to gather it with (see ChannelSet.gathers) and nothing waiting: written at once. On
    // Redis each announcement mostly goes out alone: waiting for the end of the task there cost Bun
    // more than it saved (a 5-channel stream 1.3 to 1.4 times five single streams).
    const gathering = this.set.gathers && this.subscription.gathers === true;
    if (!gathering && messages.length === 1 && this.waiting.length === 0 && !this.set.flushPending) {
      if (this.set.trySend(this, messages[0] as Message)) return !this.closed;
    }
    // Handed over at once (a run): one chunk's weight, as a single stream weighs the run's one write.
    let weight = 0;
    for (const message of messages) {
      this.waiting.push(message);
      weight += message.data.length + EVENT_OVERHEAD_BYTES;
    }
    this.waited(Math.max(weight, this.limits.minWeight));
    return !this.closed;
  }

  /** A notice (`history-truncated`), or any event of a channel's stream. */
  send(event: EventOf<AnyEvents>): boolean {
    if (this.closed) return false;
    const { data } = event;
    this.arrived({ id: event.id, event: event.event, data: typeof data === "string" ? data : JSON.stringify(data) });
    return !this.closed;
  }

  /** Bytes: a notice (presence), or a chunk of a channel's stream. */
  write(chunk: Uint8Array): boolean {
    if (this.closed) return false;
    const { events, retry } = parseChunk(chunk);
    // The first retry: is the outer stream's business; a later one is passed on at the end.
    if (retry !== undefined) this.retried(retry);
    for (const event of events) this.arrived(event);
    return !this.closed;
  }

  fits(chunk: Uint8Array): boolean {
    return (
      !this.closed && this.waitingWeight + Math.max(chunk.byteLength, this.limits.minWeight) <= this.limits.maxBytes
    );
  }

  arrived(item: Item): void {
    this.waiting.push(item);
    this.waited(this.weightOf(item));
  }

  private weightOf(item: Item): number {
    return Math.max(item.data.length + EVENT_OVERHEAD_BYTES, this.limits.minWeight);
  }

  /** Everything waiting was written (`ChannelSet.flush`): the channel's replay may go on. */
  sent(): void {
    if (this.waiting.length === 0) return;
    // pop(), not `length = 0`, which V8 takes a slow path for: most flushes find one event here.
    while (this.waiting.length > 0) this.waiting.pop();
    this.waitingWeight = 0;
    this.resume();
  }

  /** Sends what waits, event by event, as far as the client's queue allows (the slow path). */
  drain(): void {
    let n = 0;
    while (n < this.waiting.length && this.set.trySend(this, this.waiting[n] as Item)) {
      // What it weighed alone; a run (weighed as one chunk) weighs less, so never below nothing.
      this.waitingWeight = Math.max(0, this.waitingWeight - this.weightOf(this.waiting[n] as Item));
      n++;
    }
    if (n === 0) return;
    this.waiting.splice(0, n);
    if (this.waiting.length === 0) this.waitingWeight = 0;
    this.resume();
  }

  /** The channel's stream ended on its own (see `subscribeByStream`): what waits goes, then the stream ends. */
  ended(): void {
    if (this.stopped) return;
    this.set.flush();
    this.stopped = true;
    this.set.partEnded(this.retry);
  }

  /** The first retry: a channel's stream sent (the outer stream has its own); a later one is passed on. */
  retried(ms: number): void {
    if (this.retries++ > 0) this.retry = ms;
  }

  get hasWaiting(): boolean {
    return this.waiting.length > 0;
  }

  private waited(weight: number): void {
    this.waitingWeight += weight;
    // A live channel that outruns the client: a single stream would overflow here.
    if (this.waitingWeight > this.limits.maxBytes) this.set.partEnded(undefined);
    else this.set.soon();
  }

  private resume(): void {
    this.wake?.();
    if (!this.closed) this.onPull?.();
  }
}

/**
 * A channel of a hub without `subscribe` (Durable Objects): its single-channel stream, opened now so
 * that a refusal (a cap) is the request's answer, taken over before anyone read its body (see
 * `takeOver`) and started on this transport, which parses what it is written into the part. A
 * response that is not an `eventStream` one has its body read instead.
 */
async function subscribeByStream(
  hub: Hub,
  channel: string,
  { after, client, presence }: SubscribeOptions,
  request: Request,
): Promise<Subscription> {
  // No signal: ended by the multi-channel stream itself (stop), which hears the client's: one listener
  // on it, not one per channel (Node warns past ten on one signal).
  const response = await hub.stream(channel, { after, request, signal: undefined, client, presence, part: true });
  return new StreamSubscription(response);
}

class StreamSubscription implements Subscription, StreamTransport {
  private part: ChannelPart | undefined;
  private readonly stream: SseStream | undefined;
  private body: ReadableStream<Uint8Array> | null = null;
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private isStopped = false;

  constructor(response: Response) {
    this.stream = takeOver(response);
    if (this.stream === undefined) this.body = response.body;
  }

  start(subscriber: ChannelSubscriber): void {
    this.part = subscriber as ChannelPart;
    if (this.stream !== undefined) this.stream.start(this);
    else void this.read(this.part);
  }

  stop(): void {
    if (this.isStopped) return;
    this.isStopped = true;
    if (this.stream !== undefined) this.stream.clientLeft();
    else void (this.reader ?? this.body)?.cancel().catch(() => {});
  }

  write(chunk: Uint8Array): number {
    const part = this.part;
    if (part === undefined || !part.write(chunk)) return -1;
    return part.queued;
  }

  queued(): number {
    return this.part?.queued ?? 0;
  }

  end(): void {
    this.part?.ended();
  }

  abort(): void {
    this.part?.ended();
  }

  awaitRead(): void {
    if (this.part !== undefined) this.part.onPull = this.pulled;
  }

  private readonly pulled = () => {
    (this.part as ChannelPart).onPull = undefined;
    this.stream?.pulled();
  };

  /** Reads the body as the client reads, with a parser of its own (its chunks may split events). */
  private async read(part: ChannelPart): Promise<void> {
    const decoder = new TextDecoder();
    const parser = createParser({ onEvent: (event) => part.arrived(event), onRetry: (ms) => part.retried(ms) });
    try {
      this.reader = this.body?.getReader();
      for (;;) {
        if (part.closed || this.reader === undefined) return;
        const { done, value } = await this.reader.read();
        if (done || part.closed) break;
        parser.feed(decoder.decode(value, { stream: true }));
        while (part.hasWaiting && !part.closed) {
          await new Promise<void>((resolve) => {
            part.wake = resolve;
          });
        }
      }
    } catch {
      // The channel's stream failed: as its end.
    }
    part.ended();
  }
}
