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
  /** The pending wait's deadline. */
  private deadline = Number.POSITIVE_INFINITY;
  /**
   * One timer and one abort listener for the whole response, not one of each per wait: a reader
   * waits once per append (per token of an answer), and arming and clearing them each time was
   * 1.5 % of the server's CPU (profiled: `npm run bench:answers`, 100 answers × 1 reader, Node and
   * Redis). The timer is due at the earliest deadline asked since it was set; a wait with a later
   * one sets it again when it fires.
   */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private signal: AbortSignal | undefined;
  private readonly onAbort = () => this.settle(false);

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
      this.listenTo(signal);
      this.deadline = deadline;
      this.timeOut(deadline);
      const changed = await new Promise<boolean>((resolve) => {
        this.wake = resolve;
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
    clearTimeout(this.timer);
    this.timer = undefined;
    this.signal?.removeEventListener("abort", this.onAbort);
    this.signal = undefined;
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
    const wake = this.wake;
    this.wake = undefined;
    wake?.(changed);
  }

  private listenTo(signal: AbortSignal): void {
    if (signal === this.signal) return;
    this.signal?.removeEventListener("abort", this.onAbort);
    this.signal = signal;
    signal.addEventListener("abort", this.onAbort);
  }

  /** Makes sure the timer is due by `deadline`. */
  private timeOut(deadline: number): void {
    if (this.timer !== undefined && this.timerDue <= deadline) return;
    clearTimeout(this.timer);
    this.arm(deadline, deadline - Date.now());
  }

  private arm(due: number, ms: number): void {
    this.timerDue = due;
    this.timer = setTimeout(() => this.timerFired(), ms);
  }

  private timerFired(): void {
    this.timer = undefined;
    if (this.wake === undefined) return;
    // Due at an earlier wait's deadline: the pending one's comes that much later. Counted from the
    // deadlines, not the clock, which need not keep time with timers (a test's fake timers).
    const later = this.deadline - this.timerDue;
    if (later <= 0) this.settle(false);
    else this.arm(this.deadline, later);
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
