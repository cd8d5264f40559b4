/**
 * The live streams of this process (or Workers isolate, or Durable Object): counted, for
 * `/api/stats`, so that anyone can see a disconnect free its stream; and capped, so that no crowd
 * of clients, and no single client, can hold more streams than the server was sized for.
 */
import type { CloseReason } from "./stream.ts";

export interface StreamCaps {
  /** Streams open at once in all; 0: no cap. */
  maxStreams: number;
  /** Streams open at once from one client address (where the runtime knows it); 0: no cap. */
  maxStreamsPerClient: number;
}

/** Which cap refused a stream. */
export type StreamCap = "streams" | "client-streams";

/** Thrown by `StreamStats.open` when a cap is reached; the app answers 503 or 429 (see errors.ts). */
export class StreamCapError extends Error {
  constructor(readonly cap: StreamCap) {
    super(cap === "streams" ? "too many open streams" : "too many open streams from this client");
    this.name = "StreamCapError";
  }
}

const NO_CAPS: StreamCaps = { maxStreams: 0, maxStreamsPerClient: 0 };

export class StreamStats {
  activeStreams = 0;
  openedStreams = 0;
  readonly closedBy: Partial<Record<CloseReason, number>> = {};
  // Open streams per client address; an address leaves the map with its last stream.
  private readonly perClient = new Map<string, number>();

  constructor(private readonly caps: StreamCaps = NO_CAPS) {}

  /**
   * Counts a stream from `client` as open, or throws `StreamCapError` if a cap is reached. The
   * returned function, given to `eventStream` as `onClose`, counts it closed.
   */
  open(client?: string): (reason: CloseReason) => void {
    const { maxStreams, maxStreamsPerClient } = this.caps;
    if (maxStreams > 0 && this.activeStreams >= maxStreams) throw new StreamCapError("streams");
    const fromClient = client === undefined ? 0 : (this.perClient.get(client) ?? 0);
    if (client !== undefined && maxStreamsPerClient > 0 && fromClient >= maxStreamsPerClient) {
      throw new StreamCapError("client-streams");
    }
    this.activeStreams++;
    this.openedStreams++;
    if (client !== undefined) this.perClient.set(client, fromClient + 1);
    let counted = true;
    return (reason) => {
      if (!counted) return; // a stream closes once, but a place must never be given back twice
      counted = false;
      this.activeStreams--;
      this.closedBy[reason] = (this.closedBy[reason] ?? 0) + 1;
      if (client === undefined) return;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    };
  }

  toJSON() {
    return {
      activeStreams: this.activeStreams,
      openedStreams: this.openedStreams,
      clients: this.perClient.size,
      closedBy: this.closedBy,
    };
  }
}
