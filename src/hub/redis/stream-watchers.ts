/**
 * One stream's watchers in one process of the Redis log, and each append told to them once.
 *
 * Every write announces its change over pub/sub (log-notice.ts), and that notice tells the watchers
 * of every process, this one included. An append made here is also told at once, as soon as Redis
 * acknowledges it, rather than a pub/sub round trip later: a reader in this process (an answer's
 * first reader is in the process that generates it) writes each chunk a round trip sooner. The
 * append then reaches this process twice, by its acknowledgment and by its notice, in either order
 * (two connections): whichever comes first is told, the other is not. Appends are known by their
 * stream instance, position and new tail, which no other write of the stream shares.
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
   * This process's appends sent and not yet both acknowledged and heard over pub/sub, by key: true
   * once one of the two told it. Small: an append leaves once both came (or it failed), and all of
   * them when the pub/sub connection is lost (no notice will come).
   */
  private readonly own = new Map<string, boolean>();

  /** Tells every watcher, as it is: a resync, or a lost connection. */
  tell(change: LogChange): void {
    this.instance = change.kind === "deleted" ? undefined : change.record.instance;
    for (const listener of [...this.listeners]) listener(change);
  }

  /** A change heard over pub/sub: told unless it is this process's append, told already. */
  heard(change: LogChange): void {
    if (change.kind === "appended") {
      const key = keyOf(change);
      const told = this.own.get(key);
      if (told === true) {
        this.own.delete(key);
        return;
      }
      if (told === false) this.own.set(key, true);
    }
    this.tell(change);
  }

  /** An append this process is about to send: from now on its notice is known as this process's. */
  sending(change: Appended): void {
    this.own.set(keyOf(change), false);
  }

  /**
   * The append sent is applied, refused (the stream changed first) or unknown (Redis did not answer:
   * it may still apply, and then its notice tells it).
   */
  settled(change: Appended, applied: boolean): void {
    const key = keyOf(change);
    const told = this.own.get(key);
    // Forgotten with a lost connection: the resync once it is back, or the notice, tells it.
    if (told === undefined) return;
    if (told || !applied || change.record.instance !== this.instance) {
      this.own.delete(key);
      return;
    }
    this.own.set(key, true);
    this.tell(change);
  }

  /** The pub/sub connection was lost: the notices of appends sent so far may never come. */
  forgetOwn(): void {
    this.own.clear();
  }
}

/** What tells one append from every other write of its stream (an instance's tail only grows). */
function keyOf({ from, record }: Appended): string {
  return `${record.instance} ${from} ${record.tail}`;
}
