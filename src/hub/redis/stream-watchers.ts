/**
 * One stream's watchers in one process of the Redis log, and each append told to them once.
 *
 * Every write announces its change over pub/sub (log-notice.ts), and that notice tells the watchers
 * of every process, this one included. An append made here is also told at once, as soon as Redis
 * acknowledges it, rather than a pub/sub round trip later: a reader in this process (an answer's
 * first reader is in the process that generates it) writes each chunk a round trip sooner. The
 * append then reaches this process twice, by its acknowledgment and by its notice, in either order
 * (two connections): whichever comes first is told, the other is not. Appends are known by the
 * number their log gave them, which their notice carries (log-notice.ts): a notice of an append
 * told already is dropped before it is decoded.
 *
 * Told at once only when the watchers already know the stream as this instance (from a notice or
 * a resync), so that an append of a stream deleted and created again here is never told before
 * the notices of that deletion and creation; otherwise, and while the pub/sub connection is away,
 * the notice tells it, as it tells any other process's changes. A reader that is told an append
 * that does not follow on from its position reads the log (changes.ts, `followOn`), so an
 * append told before an earlier one of another process still arrives in order.
 */
import type { LogChange } from "../log.ts";

type Appended = Extract<LogChange, { kind: "appended" }>;

export class StreamWatchers {
  readonly listeners = new Set<(change: LogChange) => void>();
  /** The stream's instance as last told; undefined before anything was told, and once deleted or lost. */
  private instance: string | undefined;
  /**
   * This process's appends sent and not yet both acknowledged and heard over pub/sub, by number:
   * true once one of the two told it. Small: an append leaves once both came (or it failed), and
   * all of them when the pub/sub connection is lost (no notice will come).
   */
  private readonly own = new Map<number, boolean>();

  /** Tells every watcher, as it is: a resync, or a lost connection. */
  tell(change: LogChange): void {
    // A request to the writer changes nothing in the stream.
    if (change.kind !== "stop-asked") this.instance = change.kind === "deleted" ? undefined : change.record.instance;
    for (const listener of [...this.listeners]) listener(change);
  }

  /**
   * Whether the notice of this process's append `number` is to be dropped unread: its
   * acknowledgment told it already.
   */
  toldAlready(number: number): boolean {
    if (this.own.get(number) !== true) return false;
    this.own.delete(number);
    return true;
  }

  /** A change heard over pub/sub (not told already); `own`: the number of this process's append it is. */
  heard(change: LogChange, own?: number): void {
    if (own !== undefined && this.own.get(own) === false) this.own.set(own, true);
    this.tell(change);
  }

  /** An append this process is about to send: from now on its notice is known as this process's. */
  sending(number: number): void {
    this.own.set(number, false);
  }

  /**
   * The append sent is applied, refused (the stream changed first) or unknown (Redis did not answer:
   * it may still apply, and then its notice tells it).
   */
  settled(number: number, change: Appended, applied: boolean): void {
    const told = this.own.get(number);
    // Forgotten with a lost connection: the resync once it is back, or the notice, tells it.
    if (told === undefined) return;
    if (told || !applied || change.record.instance !== this.instance) {
      this.own.delete(number);
      return;
    }
    this.own.set(number, true);
    this.tell(change);
  }

  /** The pub/sub connection was lost: the notices of appends sent so far may never come. */
  forgetOwn(): void {
    this.own.clear();
  }
}
