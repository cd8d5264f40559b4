/**
 * One reader of an answer generated in this process (live-answer.ts): sent each chunk in the tick
 * the generation yields it, as bytes encoded once for every reader that is caught up (a reader that
 * joined late, or whose client reads slowly, catches up from the answer's chunks as its client reads),
 * then `[DONE]` once the log has stored the end. If the log took the answer over, the reader goes on
 * in the log from where the two agree (answer-response.ts, `followAnswer`).
 */
import { encodeEvent } from "../sse/encode.ts";
import type { EventSink, IterableSource, SseStream, Stop } from "../sse/index.ts";
import { pumpIterable } from "../sse/iterable.ts";
import type { LiveAnswer, LiveListener } from "./live-answer.ts";

/** What ends a UI message stream (the AI SDK's `JsonToSseTransformStream` sends it last). */
export const DONE = "[DONE]";

const DONE_FRAME = encodeEvent({ data: DONE });

export class LiveReader implements LiveListener {
  /** Chunks this reader's client was sent. */
  private sent = 0;
  private stopLog: (() => void) | undefined;

  constructor(
    private readonly live: LiveAnswer,
    private readonly sink: EventSink,
    /** The answer from the log: from entry `position` on; `beyondLog`, the reader was sent chunks it lacks. */
    private readonly fromLog: (position: number, beyondLog: boolean) => IterableSource,
  ) {}

  /** Starts sending; returns what ends it (the stream's `Stop`). */
  start(): Stop {
    this.live.listeners.add(this);
    this.catchUp(false);
    return () => this.stop();
  }

  chunk(index: number, frame: Uint8Array): void {
    if (index === this.sent && this.sink.fits(frame)) {
      this.sink.write(frame);
      this.sent++;
    } else {
      this.catchUp(false);
    }
  }

  ended(): void {
    this.catchUp(false);
  }

  /**
   * Sends what the client lacks, as far as it may leave unread; the rest when it has read more
   * (`pulled`: it just did, so the next chunk goes even if it alone is over the limit, and the stream
   * then drops the client as too slow, as the pump of any iterable source does). Then the end, once
   * there is one.
   */
  private catchUp(pulled: boolean): void {
    const { live, sink } = this;
    if (sink.closed || this.stopLog !== undefined) return;
    const end = live.end;
    const { chunks } = live;
    const available = end?.kind === "handed-over" ? Math.min(end.chunks, chunks.length) : chunks.length;
    while (this.sent < available) {
      const frame = encodeEvent({ data: chunks[this.sent] as string });
      if (!pulled && !sink.fits(frame)) {
        // Told of a read only while waiting for one: a transport asked at every read (Bun, Deno)
        // would call back into JavaScript per event (sse/stream.ts, WebStreamTransport).
        sink.onPull ??= () => {
          sink.onPull = undefined;
          this.catchUp(true);
        };
        return;
      }
      pulled = false;
      if (!sink.write(frame)) return;
      this.sent++;
    }
    if (end === undefined) return;
    live.listeners.delete(this);
    sink.onPull = undefined;
    if (end.kind === "closed") {
      sink.write(DONE_FRAME);
      sink.close();
      return;
    }
    // The sink is the stream itself (eventStream gives its source the SseStream).
    this.stopLog = pumpIterable(this.fromLog(end.position, this.sent > end.chunks), sink as SseStream);
  }

  private stop(): void {
    this.live.listeners.delete(this);
    this.stopLog?.();
  }
}
