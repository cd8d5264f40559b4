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
  type StreamDeadline,
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
  const parts = new AbortController();
  const opened = await Promise.allSettled(
    channels.map((channel, i) =>
      hub.stream(channel, {
        after: starts[i],
        request: options.request,
        signal: parts.signal,
        client: options.client,
        presence: options.presence,
        part: true,
      }),
    ),
  );
  const bodies = opened.map((result) => (result.status === "fulfilled" ? result.value.body : null));
  const failed = opened.find((result) => result.status === "rejected");
  if (failed !== undefined) {
    parts.abort();
    for (const body of bodies) void body?.cancel().catch(() => {});
    throw failed.reason;
  }
  const set = new ChannelSet(channels, starts, bodies as ReadableStream<Uint8Array>[], parts);
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

/** The channels' streams, read into one sink. */
class ChannelSet {
  private readonly positions: string[];
  private readonly readers: ReadableStreamDefaultReader<Uint8Array>[];
  private sink: EventSink | undefined;
  private readonly waitingForRoom: (() => void)[] = [];

  constructor(
    private readonly channels: readonly string[],
    private readonly starts: readonly number[],
    bodies: ReadableStream<Uint8Array>[],
    private readonly parts: AbortController,
  ) {
    this.positions = channels.map((channel, i) => `${channel}:${starts[i]}`);
    // Taken now (nothing is read yet), so that close() can cancel each, read or not.
    this.readers = bodies.map((body) => body.getReader());
  }

  readonly source = (sink: EventSink) => {
    this.sink = sink;
    const positions = Object.fromEntries(this.channels.map((channel, i) => [channel, this.starts[i]]));
    sink.send({ event: CURSOR_EVENT, id: this.positions.join(","), data: JSON.stringify(positions) });
    this.channels.forEach((channel, i) => void this.follow(channel, i, this.readers[i] as ReadableStreamDefaultReader));
  };

  /** Ends every channel's stream: the outer one ended (client gone, too slow, shutdown, token expired). */
  readonly close = () => {
    this.parts.abort();
    for (const wake of this.waitingForRoom.splice(0)) wake();
    // Cancelled too: a hub may not pass the signal on; the channel's stream then hears it this way.
    for (const reader of this.readers) void reader.cancel().catch(() => {});
  };

  /**
   * Re-sends one channel's events in its order, as fast as the client reads: an event that does not
   * fit waits for room (as a single stream's replay does), so a long replay of many channels is
   * paced instead of dropping the client. A channel's stream that ends on its own (its backend lost,
   * its object reset) ends the whole stream, so the client comes back with its cursor.
   */
  private async follow(channel: string, i: number, reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const parsed: EventSourceMessage[] = [];
    let retries = 0;
    let retry: number | undefined;
    const parser = createParser({
      onEvent: (event) => parsed.push(event),
      // The channel's first retry: is the outer stream's business; a later one (a Durable Object
      // subscription that cannot reconnect) says when to come back, and is passed on at the end.
      onRetry: (ms) => {
        if (retries++ > 0) retry = ms;
      },
    });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        for (const event of parsed.splice(0)) {
          // Awaited only when the client's queue is full: the hot path stays synchronous.
          const sent = this.send(channel, i, event);
          if (!(sent === true || (sent !== false && (await sent)))) return;
        }
      }
    } catch {
      // The channel's stream failed: as its end.
    }
    const sink = this.sink;
    if (sink === undefined || sink.closed) return;
    if (retry !== undefined) sink.write(encodeRetry(retry));
    sink.close();
  }

  private send(channel: string, i: number, event: EventSourceMessage): boolean | Promise<boolean> {
    const sink = this.sink as EventSink;
    const bytes = this.encode(channel, i, event);
    if (!sink.fits(bytes)) return this.sendWhenRoom(channel, i, event);
    this.moved(channel, i, event);
    return sink.write(bytes);
  }

  private async sendWhenRoom(channel: string, i: number, event: EventSourceMessage): Promise<boolean> {
    const sink = this.sink as EventSink;
    let bytes: Uint8Array;
    do {
      await this.room();
      // Other channels may have moved on while this one waited: its cursor must say so.
      bytes = this.encode(channel, i, event);
    } while (!sink.closed && !sink.fits(bytes));
    this.moved(channel, i, event);
    return sink.write(bytes);
  }

  /**
   * The position moves only as the event is written: an event of another channel sent meanwhile
   * must not carry a position this client has not been sent yet.
   */
  private moved(channel: string, i: number, event: EventSourceMessage): void {
    if (event.id !== undefined) this.positions[i] = `${channel}:${event.id}`;
  }

  private encode(channel: string, i: number, event: EventSourceMessage): Uint8Array {
    let id: string | undefined;
    if (event.id !== undefined) {
      id = "";
      const positions = this.positions;
      for (let n = 0; n < positions.length; n++) {
        if (n > 0) id += ",";
        id += n === i ? `${channel}:${event.id}` : positions[n];
      }
    }
    return encodeEvent({ event: `${channel}/${event.event ?? "message"}`, id, data: event.data });
  }

  private room(): Promise<void> {
    return new Promise((resolve) => {
      this.waitingForRoom.push(resolve);
      (this.sink as EventSink).onPull = this.pulled;
    });
  }

  private readonly pulled = () => {
    (this.sink as EventSink).onPull = undefined;
    for (const wake of this.waitingForRoom.splice(0)) wake();
  };
}
