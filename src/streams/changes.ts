/**
 * A stream's changes, watched for the whole of one response (an SSE stream, a long-poll): the
 * reader watches once, before its first read, and then only asks whether anything changed since
 * it last looked. One watch per response, not one per wait, because a backend's watch may cost a
 * connection (on Workers, a WebSocket to the stream's object), and a watch that is set up
 * asynchronously may report "something may have changed" when it is ready: a reader that watched
 * again after each wait would be woken again by every new watch.
 */
import type { StreamLog } from "../hub/log.ts";

export class StreamChanges {
  private changed = false;
  private wake: ((changed: boolean) => void) | undefined;
  private readonly unwatch: () => void;

  constructor(log: StreamLog, name: string) {
    this.unwatch = log.watch(name, () => {
      this.changed = true;
      this.settle(true);
    });
  }

  /**
   * Resolves true once the stream changed since the last call (at once if it already had), false
   * when `deadline` passes or `signal` aborts first.
   */
  next(deadline: number, signal: AbortSignal): Promise<boolean> {
    if (this.changed) {
      this.changed = false;
      return Promise.resolve(true);
    }
    if (signal.aborted || Date.now() >= deadline) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onAbort = () => this.settle(false);
      const timer = setTimeout(onAbort, deadline - Date.now());
      signal.addEventListener("abort", onAbort);
      this.wake = (changed) => {
        this.wake = undefined;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (changed) this.changed = false;
        resolve(changed);
      };
    });
  }

  stop(): void {
    this.unwatch();
    this.settle(false);
  }

  private settle(changed: boolean): void {
    this.wake?.(changed);
  }
}
