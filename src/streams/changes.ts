/**
 * A stream's changes, watched for the whole of one response (an SSE stream, a long-poll): the
 * reader watches once, before its first read, and then takes what changed since it last looked.
 * One watch per response, not one per wait, because a backend's watch may cost a connection (on
 * Workers, a WebSocket to the stream's object), and a watch that is set up asynchronously may
 * report "something may have changed" when it is ready: a reader that watched again after each
 * wait would be woken again by every new watch.
 *
 * The changes are kept as told (appends with their entries), so that a reader at an append's
 * `from` can write its entries without asking the log again (see `followOn`); past
 * `MAX_HELD_BYTES` of entries not taken yet (a client that reads slowly), they are let go and the
 * reader reads instead.
 */
import type { LogChange, ReadResult, StreamLog } from "../hub/log.ts";

const MAX_HELD_BYTES = 1024 * 1024;

export class StreamChanges {
  private held: LogChange[] = [];
  private heldBytes = 0;
  /** Changes came since the last take; `held` has them all unless `letGo`. */
  private changed = false;
  private letGo = false;
  private wake: ((changed: boolean) => void) | undefined;
  private readonly unwatch: () => void;

  constructor(log: StreamLog, name: string) {
    this.unwatch = log.watch(name, (change) => this.told(change));
  }

  /**
   * Resolves with the changes since the last call once there are any (at once if there are), or
   * with none when some were let go (the reader reads again); undefined when `deadline` passes or
   * `signal` aborts first.
   */
  async next(deadline: number, signal: AbortSignal): Promise<LogChange[] | undefined> {
    if (!this.changed) {
      if (signal.aborted || Date.now() >= deadline) return undefined;
      const changed = await new Promise<boolean>((resolve) => {
        const onAbort = () => this.settle(false);
        const timer = setTimeout(onAbort, deadline - Date.now());
        signal.addEventListener("abort", onAbort);
        this.wake = (changed) => {
          this.wake = undefined;
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          resolve(changed);
        };
      });
      if (!changed) return undefined;
    }
    const taken = this.letGo ? [] : this.held;
    this.held = [];
    this.heldBytes = 0;
    this.changed = false;
    this.letGo = false;
    return taken;
  }

  stop(): void {
    this.unwatch();
    this.settle(false);
  }

  private told(change: LogChange): void {
    this.changed = true;
    if (!this.letGo && change.kind === "appended") {
      for (const entry of change.entries) this.heldBytes += entry.byteLength;
    }
    if (this.heldBytes > MAX_HELD_BYTES) {
      this.letGo = true;
      this.held = [];
      this.heldBytes = 0;
    } else if (!this.letGo) {
      this.held.push(change);
    }
    this.settle(true);
  }

  private settle(changed: boolean): void {
    this.wake?.(changed);
  }
}

/**
 * What `changes` tell a reader at `position`, as a read from there would answer (without its
 * limit on bytes), when they are appends that follow on from it one after another; otherwise
 * undefined, and the reader reads. The record is the last change's: a backend may hand over its
 * live record, further on than these entries, which then only says the reader is not at the tail.
 */
export function followOn(changes: LogChange[], position: number): Extract<ReadResult, { kind: "found" }> | undefined {
  let record: Extract<LogChange, { kind: "appended" }>["record"] | undefined;
  const entries: Uint8Array[] = [];
  let next = position;
  for (const change of changes) {
    if (change.kind !== "appended" || change.from !== next) return undefined;
    entries.push(...change.entries);
    next += change.entries.length;
    record = change.record;
  }
  return record === undefined ? undefined : { kind: "found", record, entries, next };
}
