/**
 * The object side of `StreamLog.watch` (stream-watch.ts is the Worker side), for every object that
 * holds a stream of the log: a `StreamObject` (a durable stream) and a `ChannelObject` (a channel's
 * stream, `channels/<name>`). Each watcher is a WebSocket from the Worker request that holds an SSE or
 * long-poll response, accepted with the Hibernation API, so it keeps the object from hibernating no
 * more than a channel's subscribers do: between changes the object holds no request. Watchers are
 * tagged, so that an object with other sockets (a channel's subscribers) tells only them.
 */
import type { LogChange } from "../log.ts";
import { encodeChange } from "./log-change.ts";

/** Sent by the Worker on a watch's upgrade, so that an object with subscribers too tells them apart. */
export const WATCH_HEADER = "x-edge-sse-watch";
/** The tag of a watcher's socket: `ctx.getWebSockets(WATCHER_TAG)` lists just those. */
export const WATCHER_TAG = "edge-sse:watcher";

export class StreamWatchers {
  constructor(private readonly ctx: DurableObjectState) {}

  /**
   * Accepts a watcher's upgrade. Its first message is `now`, the stream as it is: what it may have
   * missed before its socket was open, so that it reads again unless it is at the tail.
   */
  accept(now: LogChange): Response {
    const [socket, accepted] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(accepted, [WATCHER_TAG]);
    accepted.send(encodeChange(now));
    return new Response(null, { status: 101, webSocket: socket });
  }

  /** Tells every watcher, encoded once (nothing is encoded when nobody watches). */
  notify(change: LogChange | (() => LogChange)): void {
    const sockets = this.ctx.getWebSockets(WATCHER_TAG);
    if (sockets.length === 0) return;
    const message = encodeChange(typeof change === "function" ? change() : change);
    for (const socket of sockets) {
      try {
        socket.send(message);
      } catch {
        // Closing already: its Worker request has stopped watching.
      }
    }
  }

  isWatcher(socket: WebSocket): boolean {
    return this.ctx.getTags(socket).includes(WATCHER_TAG);
  }

  /** A watcher's socket closed: the Worker stopped watching (its response ended); close this side too. */
  closed(socket: WebSocket, code: number): void {
    try {
      socket.close(code === 1005 ? 1000 : code, "done watching");
    } catch {
      // Closed already.
    }
  }
}
