/**
 * Sends an object's frames to its subscribers' sockets a slice at a time, with a turn of the event
 * loop between slices; each socket gets, in one frame, every message it has not been sent yet.
 *
 * Why slices: locally every Worker request and object share workerd's one thread, and a send to
 * every socket at once queues thousands of deliveries whose steps go round-robin, so none finishes
 * before all do, and a publish's request waits behind the whole fan-out, then costs another one
 * (issue 18, N = 5000, a burst of 10 publishes: posts answered after 0.8 and 1.5 s, about three
 * frames per subscriber). Between slices the publishes that came meanwhile get in, and the slices
 * still waiting take them in the same frame: a burst reaches most subscribers as one socket message
 * and one stream write. In production the sockets lead to other machines; the turns cost little.
 *
 * A socket's cursor (the newest id sent to it) is the larger of its entry in `sent` and `everyone`,
 * the id every socket has been sent once a pass is over. Sockets from before hibernation have no
 * entry, and nothing is waiting when the object can hibernate (a send under way keeps it awake).
 */
import { frameLastId, joinFrames } from "./frame.ts";

// Deliveries queued at once per object: few enough (about 1 to 2 ms of workerd's CPU locally, at
// 80 to 150 µs each) that a publish's request waits little behind a slice of each object.
const SLICE_SOCKETS = 16;

const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class SocketFanOut {
  /** Frames not yet sent to every socket, oldest first, contiguous. */
  private runs: Uint8Array[] = [];
  /** The newest id every socket has been sent (a socket's own entry in `sent` may be newer). */
  private everyone = 0;
  private latest = 0;
  private readonly sent = new WeakMap<WebSocket, number>();
  /** Joined frames by the cursor they follow, for the sockets that share one; reset by each new frame. */
  private readonly framesAfter = new Map<number, Uint8Array>();
  private sending = false;

  /**
   * @param sockets the object's subscribers' sockets, asked again at each pass (some join, some leave)
   * @param yieldTurn waits for a turn of the event loop between slices (a test gives them itself)
   * @param slice sockets per slice
   */
  constructor(
    private readonly sockets: () => WebSocket[],
    private readonly yieldTurn: () => Promise<void> = nextTurn,
    private readonly slice: number = SLICE_SOCKETS,
  ) {}

  /** Messages after every earlier frame's: sent to every socket, joined with any still on their way. */
  send(frame: Uint8Array): void {
    this.runs.push(frame);
    this.latest = frameLastId(frame);
    this.framesAfter.clear();
    if (!this.sending) void this.sendAll();
  }

  /** A socket accepted now, told it gets the messages after `after`: a send under way skips the rest. */
  joined(socket: WebSocket, after: number): void {
    if (this.sending) this.sent.set(socket, after);
  }

  private async sendAll(): Promise<void> {
    this.sending = true;
    try {
      // Until a whole pass finds nobody behind: a pass that sent nothing never yielded, so nothing
      // was published during it.
      while (await this.pass()) {}
    } finally {
      this.sending = false;
    }
  }

  /** One pass over the sockets, a slice at a time; whether it sent anything. */
  private async pass(): Promise<boolean> {
    const floor = this.latest;
    const sockets = this.sockets();
    let sentAny = false;
    for (let start = 0; start < sockets.length; start += this.slice) {
      // Between slices that sent something, not after the last: the next pass begins at once.
      if (sentAny) await this.yieldTurn();
      const latest = this.latest;
      const end = Math.min(sockets.length, start + this.slice);
      for (let i = start; i < end; i++) {
        const socket = sockets[i] as WebSocket;
        const at = Math.max(this.sent.get(socket) ?? 0, this.everyone);
        if (at >= latest) continue;
        try {
          socket.send(this.frameAfter(at));
        } catch {
          // Closing already: its close handler (or the Worker's reconnect) deals with it.
        }
        this.sent.set(socket, latest);
        sentAny = true;
      }
    }
    // Every socket of the pass, and every one that joined meanwhile, has been sent at least `floor`.
    this.everyone = floor;
    this.runs = this.runs.filter((frame) => frameLastId(frame) > floor);
    return sentAny;
  }

  /** The messages after `cursor` as one frame (it may start earlier: the Worker skips what it wrote). */
  private frameAfter(cursor: number): Uint8Array {
    let frame = this.framesAfter.get(cursor);
    if (frame === undefined) {
      const after = this.runs.filter((run) => frameLastId(run) > cursor);
      frame = after.length === 1 ? (after[0] as Uint8Array) : joinFrames(after);
      this.framesAfter.set(cursor, frame);
    }
    return frame;
  }
}
