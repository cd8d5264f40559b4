/**
 * The frames a channel's object hands one of its shards, in order, with one `deliver()` call out at
 * a time: frames made while a call is out wait, and go together in the next call as one frame
 * (frame.ts, `joinFrames`). A shard that keeps up gets each frame at once; one that is busy (a
 * burst of publishes, each its own turn of the channel's object) gets the run as one message per
 * subscriber instead of one per publish, which is what a subscriber's socket message and stream
 * write cost. Calls through one kept stub arrive in the order they were made.
 */
import type { ChannelShard } from "./channel-shard.ts";
import { frameLastId, joinFrames } from "./frame.ts";

// The most one call joins: a frame is one socket message and one stream write to each subscriber,
// well under Workers' WebSocket message limit and a client's buffer (MAX_BUFFERED_BYTES, 1 MiB).
const JOINED_BYTES = 64 * 1024;

export class ShardOutbox {
  private waiting: Uint8Array[] = [];
  private delivering = false;

  constructor(
    private readonly shard: number,
    readonly stub: DurableObjectStub<ChannelShard>,
  ) {}

  send(frame: Uint8Array): void {
    this.waiting.push(frame);
    if (!this.delivering) void this.deliverWaiting();
  }

  private async deliverWaiting(): Promise<void> {
    this.delivering = true;
    try {
      while (this.waiting.length > 0) {
        const frame = this.nextFrame();
        try {
          await this.stub.deliver(frame);
        } catch (error) {
          // A subscriber of the shard that missed it sees the gap at the next id and reads history.
          console.error(`edge-sse: shard ${this.shard} missed messages up to ${frameLastId(frame)}`, error);
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  /** The waiting frames from the oldest, joined up to JOINED_BYTES (at least one). */
  private nextFrame(): Uint8Array {
    let count = 1;
    let bytes = (this.waiting[0] as Uint8Array).byteLength;
    while (count < this.waiting.length && bytes + (this.waiting[count] as Uint8Array).byteLength <= JOINED_BYTES) {
      bytes += (this.waiting[count] as Uint8Array).byteLength;
      count++;
    }
    const frames = this.waiting.splice(0, count);
    return count === 1 ? (frames[0] as Uint8Array) : joinFrames(frames);
  }
}
