/**
 * What a channel's object hands a shard: frames in order, one deliver() call out at a time, the
 * frames made meanwhile joined into the next call (so a busy shard's subscribers get one message
 * each, not one per publish), and a failed call does not stop the next.
 */
import { describe, expect, it, vi } from "vitest";
import { encodeChannelEvent } from "../../src/hub/channel-event.ts";
import type { ChannelShard } from "../../src/hub/durable-object/channel-shard.ts";
import { encodeFrame, readFrame } from "../../src/hub/durable-object/frame.ts";
import { ShardOutbox } from "../../src/hub/durable-object/shard-outbox.ts";

const createdAt = new Date(0).toISOString();
const frameOf = (id: number) =>
  encodeFrame([encodeChannelEvent({ id, event: null, data: JSON.stringify({ id }), createdAt })], id);

/** A shard whose deliver() calls stay out until released; what each call carried, as its ids. */
function slowShard() {
  const calls: { first: number; last: number }[] = [];
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const stub = {
    deliver(frame: Uint8Array): Promise<void> {
      const { first, last } = readFrame(frame.slice().buffer);
      calls.push({ first, last });
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
  };
  return { calls, pending, stub: stub as unknown as DurableObjectStub<ChannelShard> };
}

describe("a shard's outbox", () => {
  it("has one delivery out at a time and joins the frames made meanwhile into the next, in order", async () => {
    const shard = slowShard();
    const outbox = new ShardOutbox(1, shard.stub);
    outbox.send(frameOf(1));
    outbox.send(frameOf(2));
    outbox.send(frameOf(3));
    expect(shard.calls).toEqual([{ first: 1, last: 1 }]);
    shard.pending[0]?.resolve();
    await vi.waitFor(() => expect(shard.calls).toHaveLength(2));
    expect(shard.calls[1]).toEqual({ first: 2, last: 3 });
    outbox.send(frameOf(4));
    expect(shard.calls).toHaveLength(2);
    shard.pending[1]?.resolve();
    await vi.waitFor(() => expect(shard.calls).toHaveLength(3));
    expect(shard.calls[2]).toEqual({ first: 4, last: 4 });
    shard.pending[2]?.resolve();
  });

  it("goes on with the next frames after a delivery failed", async () => {
    const shard = slowShard();
    const outbox = new ShardOutbox(1, shard.stub);
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      outbox.send(frameOf(1));
      outbox.send(frameOf(2));
      shard.pending[0]?.reject(new Error("the shard restarted"));
      await vi.waitFor(() => expect(shard.calls).toHaveLength(2));
      expect(shard.calls[1]).toEqual({ first: 2, last: 2 });
      expect(logged).toHaveBeenCalledOnce();
      shard.pending[1]?.resolve();
    } finally {
      logged.mockRestore();
    }
  });
});
