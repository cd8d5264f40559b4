/**
 * Several channels in one SSE stream, with one cursor over all of them, on any Hub.
 *
 * Composed at the SSE level: each channel is followed by the backend's own single-channel stream
 * (`hub.stream(channel, { after, part: true })`), whose replay-then-live hand-over and
 * `history-truncated` are already exact on every backend, and its events are re-sent into one
 * stream. Nothing here knows a backend or what a channel's events carry.
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
import { createParser, type EventSourceMessage } from "eventsource-parser";
import {
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
import type { StreamSettings } from "./channel.ts";
import type { Hub } from "./hub.ts";

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
    channels.map((channel, i) =>
      hub.stream(channel, {
        after: starts[i],
        request: options.request,
        // Ended by the multi-channel stream itself (ChannelPart.stop), which hears the client's signal:
        // one listener on it, not one per channel (Node warns past ten on one signal).
        signal: undefined,
        client: options.client,
        presence: options.presence,
        part: true,
      }),
    ),
  );
  const failed = opened.find((result) => result.status === "rejected");
  if (failed !== undefined) {
    for (const result of opened) if (result.status === "fulfilled") void result.value.body?.cancel().catch(() => {});
    throw failed.reason;
  }
  const responses = opened.map((result) => (result as PromiseFulfilledResult<Response>).value);
  const set = new ChannelSet(channels, starts, responses);
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

/** The channels' streams, re-sent into one sink. */
class ChannelSet {
  private readonly positions: string[];
  private readonly parts: ChannelPart[];
  private sink: EventSink | undefined;
  private isClosed = false;
  private nextToDrain = 0;

  constructor(
    private readonly channels: readonly string[],
    private readonly starts: readonly number[],
    responses: readonly Response[],
  ) {
    this.positions = channels.map((channel, i) => `${channel}:${starts[i]}`);
    this.parts = responses.map((response, i) => new ChannelPart(this, channels[i] as string, i, response));
  }

  readonly source = (sink: EventSink) => {
    this.sink = sink;
    const positions = Object.fromEntries(this.channels.map((channel, i) => [channel, this.starts[i]]));
    sink.send({ event: CURSOR_EVENT, id: this.positions.join(","), data: JSON.stringify(positions) });
    for (const part of this.parts) if (!sink.closed) part.start();
  };

  /** Ends every channel's stream: the outer one ended (client gone, too slow, shutdown, token expired). */
  readonly close = () => {
    this.isClosed = true;
    for (const part of this.parts) part.stop();
  };

  /**
   * Writes one channel's event if it fits the client's queue; false if it must wait (the caller keeps
   * it, and is asked to drain when the client has read some). The position moves only as its event is
   * written, and the cursor is built then: an event of another channel sent while this one waits
   * never carries a position this client has not been sent.
   */
  trySend(part: ChannelPart, event: ChannelEvent): boolean {
    const sink = this.sink;
    if (sink === undefined || sink.closed) return true; // dropped: the stream is over
    const bytes = this.encode(part, event);
    if (!sink.fits(bytes)) {
      sink.onPull = this.pulled;
      return false;
    }
    if (event.id !== undefined) this.positions[part.index] = `${part.channel}:${event.id}`;
    sink.write(bytes);
    return true;
  }

  /** A channel's stream ended on its own (its backend lost, its object reset): so does this one. */
  partEnded(retry: number | undefined): void {
    const sink = this.sink;
    if (this.isClosed || sink === undefined || sink.closed) return;
    // Its later retry: (a Durable Object subscription that cannot reconnect) says when to come back.
    if (retry !== undefined) sink.write(encodeRetry(retry));
    sink.close();
  }

  private readonly pulled = () => {
    (this.sink as EventSink).onPull = undefined;
    // Each read starts with the next channel, so that one busy channel cannot keep the others waiting.
    const first = this.nextToDrain++ % this.parts.length;
    for (let n = 0; n < this.parts.length; n++) this.parts[(first + n) % this.parts.length]?.drain();
  };

  private encode(part: ChannelPart, event: ChannelEvent): Uint8Array {
    let id: string | undefined;
    if (event.id !== undefined) {
      id = "";
      const positions = this.positions;
      for (let n = 0; n < positions.length; n++) {
        if (n > 0) id += ",";
        id += n === part.index ? `${part.channel}:${event.id}` : positions[n];
      }
    }
    // Subscribers of the same channels that are at the same positions (all of them, once caught up)
    // are sent the same bytes: the last encoding of a shared event is kept on it and reused.
    const last = event.encoded;
    if (last !== undefined && last.id === id && last.channel === part.channel) return last.bytes;
    const bytes = encodeEvent({ event: `${part.channel}/${event.event ?? "message"}`, id, data: event.data });
    event.encoded = { channel: part.channel, id, bytes };
    return bytes;
  }
}

/** A channel's event, with the last encoding of it that was sent (see `ChannelSet.encode`). */
interface ChannelEvent extends EventSourceMessage {
  encoded?: { channel: string; id: string | undefined; bytes: Uint8Array };
}

/** What one whole chunk holds: a channel's stream writes whole events (`EventSink.write`). */
interface ParsedChunk {
  events: ChannelEvent[];
  retry: number | undefined;
}

/**
 * Chunks parsed so far, by the chunk itself: the memory and Redis hubs write the same bytes to every
 * subscriber of a channel, so a publish is parsed once for all of them, not once per subscriber.
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
 * One channel's stream, written straight into this object (its transport, taken over before anyone
 * read its body: see `takeOver`) instead of through a web stream read back here: no read promise per
 * event. Events wait here while the client's queue is full; what waits is what this channel's stream
 * sees as queued, so its replay pauses until the client reads, and a live channel that outruns the
 * client overflows its limit and ends the whole stream, as a single stream would.
 */
class ChannelPart implements StreamTransport {
  private retries = 0;
  private retry: number | undefined;
  private readonly waiting: ChannelEvent[] = [];
  private waitingWeight = 0;
  private wantsRead = false;
  private ended = false;
  private readonly stream: SseStream | undefined;
  /** Set when the hub's response is not an `eventStream` one: its body is read instead. */
  private body: ReadableStream<Uint8Array> | null = null;
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly set: ChannelSet,
    readonly channel: string,
    readonly index: number,
    response: Response,
  ) {
    this.stream = takeOver(response);
    if (this.stream === undefined) this.body = response.body;
  }

  start(): void {
    if (this.stream !== undefined) this.stream.start(this);
    else void this.read();
  }

  /** The outer stream ended: so does this channel's. Idempotent. */
  stop(): void {
    this.ended = true;
    this.wake?.();
    if (this.stream !== undefined) this.stream.clientLeft();
    else void (this.reader ?? this.body)?.cancel().catch(() => {});
  }

  write(chunk: Uint8Array): number {
    if (this.ended) return -1;
    const { events, retry } = parseChunk(chunk);
    // The first retry: is the outer stream's business; a later one is passed on at the end.
    if (retry !== undefined && this.retries++ > 0) this.retry = retry;
    for (const event of events) this.arrived(event);
    return this.waitingWeight;
  }

  queued(): number {
    return this.waitingWeight;
  }

  end(): void {
    this.finish();
  }

  abort(): void {
    this.finish();
  }

  awaitRead(): void {
    this.wantsRead = true;
  }

  /** Sends what waits, as far as the client's queue allows; then lets the channel's stream go on. */
  drain(): void {
    while (this.waiting.length > 0) {
      const event = this.waiting[0] as ChannelEvent;
      if (!this.set.trySend(this, event)) return;
      this.waiting.shift();
      this.waitingWeight -= this.weightOf(event);
    }
    this.waitingWeight = 0;
    this.wake?.();
    if (this.wantsRead) {
      this.wantsRead = false;
      this.stream?.pulled();
    }
  }

  private arrived(event: ChannelEvent): void {
    if (this.waiting.length === 0 && this.set.trySend(this, event)) return;
    this.waiting.push(event);
    this.waitingWeight += this.weightOf(event);
  }

  /** As its stream weighs a chunk (`SseStream.weigh`), so that both its byte and its event limits hold. */
  private weightOf(event: EventSourceMessage): number {
    return Math.max(event.data.length + EVENT_OVERHEAD_BYTES, this.stream?.minWeight ?? 0);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.drain();
    this.set.partEnded(this.retry);
  }

  /**
   * For a hub whose streams are not `eventStream` responses: their body, read as the client reads,
   * with a parser of its own (its chunks may split events).
   */
  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent: (event) => this.arrived(event),
      onRetry: (ms) => {
        if (this.retries++ > 0) this.retry = ms;
      },
    });
    try {
      this.reader = this.body?.getReader();
      for (;;) {
        if (this.ended || this.reader === undefined) return;
        const { done, value } = await this.reader.read();
        if (done || this.ended) break;
        parser.feed(decoder.decode(value, { stream: true }));
        while (this.waiting.length > 0 && !this.ended) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        }
      }
    } catch {
      // The channel's stream failed: as its end.
    }
    this.finish();
  }
}
