/**
 * The deadline Redis commands race, shared by the commands sent close together. node-redis drops a
 * command's own `timeout` and `abortSignal` once the command is written to the socket (measured with
 * redis 6.3.1 against a redis-server paused with SIGSTOP: a PING sent with `timeout: 500`, or with an
 * `abortSignal` of 500 ms, was still pending 3 s later), so a Redis that stops answering without
 * closing the connection (a paused or swapping process, a network partition) would leave every
 * request waiting for as long as it lasts, instead of answering 503. Each command is raced against
 * this deadline instead. One timer per tenth of the timeout, not one per command: a timer per
 * command was about a tenth of the answers server's busy time (bench:answers, node --cpu-prof). So a
 * command gets at least 90% of `timeoutMs`, at most all of it.
 */
export class CommandDeadline {
  /**
   * The commands sent in the current tenth of the timeout and not answered yet, by their rejecters.
   * A set per tenth, not one shared promise that every command races: a promise keeps every
   * reaction added to it until it settles, so each command's answer (and the promise around it)
   * stayed in memory for the whole timeout, thousands of them at a few thousand commands a second,
   * and all were walked when it fired. An answered command leaves its set at once.
   */
  private current: Set<(error: Error) => void> | undefined;
  private madeAt = 0;

  constructor(private readonly timeoutMs: number) {}

  /** What `command` answers, or a rejection once its deadline passed (the command may still run). */
  race<T>(command: Promise<T>): Promise<T> {
    const pending = this.shared();
    return new Promise<T>((resolve, reject) => {
      pending.add(reject);
      command.then(
        (value) => {
          pending.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          pending.delete(reject);
          reject(error);
        },
      );
    });
  }

  private shared(): Set<(error: Error) => void> {
    const now = performance.now();
    if (this.current === undefined || now - this.madeAt >= this.timeoutMs / 10) {
      this.madeAt = now;
      const timeoutMs = this.timeoutMs;
      const pending = new Set<(error: Error) => void>();
      this.current = pending;
      const timer = setTimeout(() => {
        const error = new Error(`Redis did not answer within ${timeoutMs} ms`);
        for (const reject of pending) reject(error);
        pending.clear();
      }, timeoutMs);
      // Node and Bun: the timer alone keeps no process running (Deno's timers are numbers).
      (timer as { unref?: () => void }).unref?.();
    }
    return this.current;
  }
}
