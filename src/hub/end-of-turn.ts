/**
 * The end of this turn of the event loop, shared by the channels of one hub: when each channel's run
 * goes out (run.ts). See docs/architecture.md ("Fan-out").
 */

// After the I/O callbacks of this turn (setImmediate: Node, Bun, Deno); a timer of 0 where there is
// none (workerd).
const setImmediateIfAny = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
const atEndOfTurn: (callback: () => void) => void =
  setImmediateIfAny !== undefined ? (callback) => setImmediateIfAny(callback) : (callback) => setTimeout(callback, 0);

/**
 * Every channel that delivered in the turn sends its run in one task, with no other task or
 * microtask in between, so a multi-channel stream gets all of its channels' runs at once and writes
 * them as one chunk (see channel-set.ts).
 */
export class EndOfTurn {
  private pending: (() => void)[] = [];
  /**
   * True while the run of one channel goes out alone (see `Subscription.gathers`): nothing else comes
   * in this task, so a multi-channel stream writes it at once instead of waiting for the end of the
   * task to gather it with others.
   */
  sendingOne = false;

  schedule(callback: () => void): void {
    if (this.pending.length === 0) atEndOfTurn(this.run);
    this.pending.push(callback);
  }

  private readonly run = () => {
    const pending = this.pending;
    this.pending = [];
    this.sendingOne = pending.length === 1;
    try {
      for (const callback of pending) callback();
    } finally {
      this.sendingOne = false;
    }
  };
}
