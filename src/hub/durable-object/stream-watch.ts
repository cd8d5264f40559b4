/**
 * `StreamLog.watch` on Workers, inside the Worker request that holds an SSE or long-poll response:
 * a WebSocket to the stream's object, which sends every change on it (log-change.ts). The open
 * socket is pending I/O, so workerd does not cancel the waiting request as hung, and the object
 * can hibernate meanwhile (a hibernatable socket, unlike a held request, bills no duration).
 *
 * The object's first message on a new socket is the stream as it is then, so nothing that
 * happened while the socket was opening is missed: a reader behind that tail reads again. When
 * the socket drops (the object restarted, code was deployed), this connects again with a fresh
 * stub (one that saw its object reset stays broken), and that first message wakes the reader to
 * read what it missed. If the object cannot be reached after a few tries, the watcher is told
 * the stream is gone, as LogChange's "deleted" allows: its reader ends, and its client resumes
 * from its offset; nothing waits forever.
 */
import type { LogChange } from "../log.ts";
import { decodeChange } from "./log-change.ts";
import { WATCH_HEADER } from "./stream-watchers.ts";

// Waits before each attempt to reach the object (again).
const CONNECT_DELAYS_MS = [0, 100, 500, 1_000, 2_000];

// Only the host matters to a Durable Object's fetch; the object reads nothing from the URL.
const WATCH_URL = "https://stream.internal/watch";

export class StreamWatch {
  private socket: WebSocket | undefined;
  private stopped = false;

  constructor(
    /** The stream's object: a `StreamObject`, or the `ChannelObject` of a channel's stream. */
    private readonly object: () => Pick<DurableObjectStub, "fetch">,
    private readonly listener: (change: LogChange) => void,
  ) {
    void this.connect();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close(1000, "done watching");
    } catch {
      // Closed already.
    }
  }

  /** The socket's events: this object is their listener. */
  handleEvent(event: Event): void {
    if (event.target !== this.socket || this.stopped) return;
    if (event.type === "message") {
      const data = (event as MessageEvent).data;
      if (data instanceof ArrayBuffer) this.listener(decodeChange(data));
      return;
    }
    // close or error: the object went away (restart, deploy, eviction with an error).
    this.socket = undefined;
    void this.connect();
  }

  private async connect(): Promise<void> {
    for (const delay of CONNECT_DELAYS_MS) {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.stopped) return;
      try {
        const response = await this.object().fetch(WATCH_URL, {
          headers: { upgrade: "websocket", [WATCH_HEADER]: "1" },
        });
        const socket = response.webSocket;
        if (socket === null) throw new Error(`the stream's object answered ${response.status} instead of a WebSocket`);
        socket.accept();
        if (this.stopped) {
          socket.close(1000, "done watching");
          return;
        }
        // Changes as ArrayBuffers; the standard default (Blob) would need a read each.
        socket.binaryType = "arraybuffer";
        socket.addEventListener("message", this);
        socket.addEventListener("close", this);
        socket.addEventListener("error", this);
        this.socket = socket;
        return;
      } catch (error) {
        console.error("edge-sse: watching a stream's object failed; trying again", error);
      }
    }
    if (!this.stopped) this.listener({ kind: "deleted" });
  }
}
