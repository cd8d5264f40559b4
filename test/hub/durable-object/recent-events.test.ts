/**
 * The channel object's memory of its newest events' SSE bytes (src/hub/durable-object/recent-events.ts):
 * a page it answers is exactly the events asked for, or it answers nothing and storage does.
 */
import { describe, expect, it } from "vitest";
import type { ChannelEvent } from "../../../src/hub/channel-event.ts";
import { RecentEvents } from "../../../src/hub/durable-object/recent-events.ts";

const sse = (id: number, size = 10) => new Uint8Array(size).fill(id % 256);
const event = (id: number): ChannelEvent => ({ id, event: null, data: String(id), createdAt: "" });
const ids = (events: Uint8Array[] | undefined) => events?.map((bytes) => bytes[0]);

describe("RecentEvents", () => {
  it("answers a page of the newest events it holds, and nothing older than it keeps", () => {
    const recent = new RecentEvents(5);
    for (let id = 1; id <= 10; id++) recent.published(id, sse(id));
    expect(ids(recent.between(6, 10))).toEqual([6, 7, 8, 9, 10]);
    expect(ids(recent.between(8, 9))).toEqual([8, 9]);
    expect(recent.between(5, 10)).toBeUndefined();
    expect(recent.between(9, 11)).toBeUndefined();
    expect(recent.between(11, 10)).toEqual([]);
  });

  it("keeps no more bytes than it may", () => {
    const recent = new RecentEvents(100, 35);
    for (let id = 1; id <= 10; id++) recent.published(id, sse(id));
    expect(ids(recent.between(8, 10))).toEqual([8, 9, 10]);
    expect(recent.between(7, 10)).toBeUndefined();
    // One event bigger than the whole budget is not kept, and leaves nothing wrong behind.
    recent.published(11, sse(11, 40));
    expect(recent.between(11, 11)).toBeUndefined();
    recent.published(12, sse(12));
    expect(ids(recent.between(12, 12))).toEqual([12]);
  });

  it("starts again after a gap in the ids, holding only what follows it", () => {
    const recent = new RecentEvents(10);
    for (const id of [1, 2, 3, 7, 8]) recent.published(id, sse(id));
    expect(ids(recent.between(7, 8))).toEqual([7, 8]);
    expect(recent.between(3, 8)).toBeUndefined();
  });

  it("takes pages read from storage only where they join on, contiguous and within bounds", () => {
    const recent = new RecentEvents(10);
    const read = (from: number, to: number, latest: number) => {
      const events = Array.from({ length: to - from + 1 }, (_, i) => event(from + i));
      recent.read(
        events,
        events.map((e) => sse(e.id)),
        latest,
      );
    };
    read(1, 3, 5); // not the newest: nothing held
    expect(recent.between(1, 3)).toBeUndefined();
    read(3, 5, 5);
    expect(ids(recent.between(3, 5))).toEqual([3, 4, 5]);
    read(1, 1, 5); // does not join on (2 is missing)
    expect(recent.between(1, 5)).toBeUndefined();
    read(1, 2, 5);
    expect(ids(recent.between(1, 5))).toEqual([1, 2, 3, 4, 5]);
    recent.read([event(-1), event(0)].slice(0, 1), [sse(0)], 5); // id -1 does not join on 1
    expect(recent.between(0, 5)).toBeUndefined();
    recent.read([event(-2), event(0)], [sse(-2), sse(0)], 5); // not contiguous
    expect(recent.between(0, 5)).toBeUndefined();
    read(-5, 0, 5); // would pass the limit of 10
    expect(recent.between(0, 5)).toBeUndefined();
    recent.published(6, sse(6));
    expect(ids(recent.between(1, 6))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
