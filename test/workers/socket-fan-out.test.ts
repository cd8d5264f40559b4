/**
 * An object's fan-out to its sockets a slice at a time (socket-fan-out.ts): with publishes arriving
 * between slices, every socket still gets every message once and in order, the slices still waiting
 * get the new ones in the same frame, a socket that joins meanwhile gets just what follows its id,
 * and a socket that fails to send holds up nobody. The turns between slices are the test's to give.
 */
import { describe, expect, it } from "vitest";
import { encodeChannelEvent } from "../../src/hub/channel-event.ts";
import { encodeFrame, eventId, readFrame } from "../../src/hub/durable-object/frame.ts";
import { SocketFanOut } from "../../src/hub/durable-object/socket-fan-out.ts";

const createdAt = new Date(0).toISOString();
const eventOf = (id: number) => encodeChannelEvent({ id, event: null, data: JSON.stringify({ id }), createdAt });
/** A frame of the messages `from`..`to`. */
const frameOf = (from: number, to = from) =>
  encodeFrame(
    Array.from({ length: to - from + 1 }, (_, i) => eventOf(from + i)),
    to,
  );

/** The ids a frame carries, read as the Worker reads them (each event starts `id: n`). */
function idsOf(frame: Uint8Array): number[] {
  const { events } = readFrame(frame.slice().buffer);
  const text = new TextDecoder().decode(events);
  const ids: number[] = [];
  let offset = 0;
  for (const event of text.split("\n\n").slice(0, -1)) {
    ids.push(eventId(events, offset));
    offset += new TextEncoder().encode(`${event}\n\n`).byteLength;
  }
  return ids;
}

class FakeSocket {
  readonly frames: number[][] = [];
  failing = false;
  send(frame: Uint8Array): void {
    if (this.failing) throw new TypeError("the socket is closing");
    this.frames.push(idsOf(frame));
  }
  /** What the Worker would write: each id once, dropping what it wrote already. */
  written(): number[] {
    const written: number[] = [];
    for (const ids of this.frames) for (const id of ids) if (id > (written.at(-1) ?? 0)) written.push(id);
    return written;
  }
}

/** A fan-out over `count` sockets in slices of `slice`, whose turns between slices wait for `turn()`. */
function fanOutOver(count: number, slice: number) {
  const sockets = Array.from({ length: count }, () => new FakeSocket());
  const waiting: (() => void)[] = [];
  const fanOut = new SocketFanOut(
    // A fresh list each time, as ctx.getWebSockets() gives.
    () => [...sockets] as unknown as WebSocket[],
    () => new Promise<void>((resolve) => waiting.push(resolve)),
    slice,
  );
  /** Gives the fan-out its next turn; false when it was not waiting for one. */
  const turn = async () => {
    const next = waiting.shift();
    next?.();
    await new Promise((resolve) => setTimeout(resolve, 0));
    return next !== undefined;
  };
  const finish = async () => {
    while (await turn()) {}
  };
  return { sockets, fanOut, turn, finish };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("an object's fan-out to its sockets", () => {
  it("sends the first slice at once and the rest a turn apart", async () => {
    const { sockets, fanOut, turn, finish } = fanOutOver(10, 4);
    fanOut.send(frameOf(1));
    expect(sockets.map((socket) => socket.frames.length)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    await turn();
    expect(sockets.map((socket) => socket.frames.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    await finish();
    for (const socket of sockets) expect(socket.frames).toEqual([[1]]);
  });

  it("joins what was published between slices into one frame for the slices still waiting", async () => {
    const { sockets, fanOut, turn, finish } = fanOutOver(12, 4);
    fanOut.send(frameOf(1));
    fanOut.send(frameOf(2, 3));
    await turn();
    fanOut.send(frameOf(4));
    fanOut.send(frameOf(5));
    await finish();
    // The first slice went at once with 1, then had the rest; the second 1 to 3, then 4 and 5; the last all.
    for (const socket of sockets.slice(0, 4)) expect(socket.frames).toEqual([[1], [2, 3, 4, 5]]);
    for (const socket of sockets.slice(4, 8))
      expect(socket.frames).toEqual([
        [1, 2, 3],
        [4, 5],
      ]);
    for (const socket of sockets.slice(8)) expect(socket.frames).toEqual([[1, 2, 3, 4, 5]]);
  });

  it("gives every socket every message once, in order, while 200 are published a few per turn", async () => {
    const { sockets, fanOut, turn, finish } = fanOutOver(50, 7);
    let id = 0;
    while (id < 200) {
      const size = 1 + (id % 3);
      fanOut.send(frameOf(id + 1, id + size));
      id += size;
      if (id % 2 === 0) await turn();
    }
    await finish();
    for (const socket of sockets) {
      expect(socket.written()).toEqual(range(1, id));
      // No frame repeats what an earlier one to the same socket carried: each costs a socket message.
      expect(socket.frames.flat()).toEqual(range(1, id));
    }
  });

  it("sends a socket that joined during a fan-out just the messages after the id it was told", async () => {
    const { sockets, fanOut, turn, finish } = fanOutOver(8, 4);
    fanOut.send(frameOf(1, 2));
    // Joins the slice already sent, told that 2 is the newest: it must get 3 on, once.
    const late = new FakeSocket();
    sockets.splice(1, 0, late);
    fanOut.joined(late as unknown as WebSocket, 2);
    fanOut.send(frameOf(3));
    await turn();
    fanOut.send(frameOf(4));
    await finish();
    expect(late.frames.flat()).toEqual([3, 4]);
    for (const socket of sockets.filter((socket) => socket !== late)) expect(socket.written()).toEqual(range(1, 4));
    // Once everything is sent, a frame goes to every socket, the new one included.
    fanOut.send(frameOf(5));
    await finish();
    for (const socket of sockets) expect(socket.written().at(-1)).toBe(5);
    expect(late.frames.flat()).toEqual([3, 4, 5]);
  });

  it("goes on past a socket whose send throws", async () => {
    const { sockets, fanOut, finish } = fanOutOver(6, 4);
    (sockets[1] as FakeSocket).failing = true;
    fanOut.send(frameOf(1));
    await finish();
    fanOut.send(frameOf(2));
    await finish();
    expect((sockets[1] as FakeSocket).frames).toEqual([]);
    for (const socket of sockets.filter((_, i) => i !== 1)) expect(socket.frames).toEqual([[1], [2]]);
  });
});
