/**
 * Counts of live streams in this process (or Workers isolate), served at `/api/stats` so that
 * anyone can see a disconnect free its stream.
 */
import type { CloseReason } from "./stream.ts";

export class StreamStats {
  activeStreams = 0;
  openedStreams = 0;
  readonly closedBy: Partial<Record<CloseReason, number>> = {};

  /** Counts a stream as open; the returned function, given to `eventStream` as `onClose`, counts it closed. */
  open(): (reason: CloseReason) => void {
    this.activeStreams++;
    this.openedStreams++;
    return (reason) => {
      this.activeStreams--;
      this.closedBy[reason] = (this.closedBy[reason] ?? 0) + 1;
    };
  }

  toJSON() {
    return { activeStreams: this.activeStreams, openedStreams: this.openedStreams, closedBy: this.closedBy };
  }
}
