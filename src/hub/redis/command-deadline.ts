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
  private current: Promise<never> | undefined;
  private madeAt = 0;

  constructor(private readonly timeoutMs: number) {}

  /** What `command` answers, or a rejection once its deadline passed (the command may still run). */
  race<T>(command: Promise<T>): Promise<T> {
    return Promise.race([command, this.shared()]);
  }

  private shared(): Promise<never> {
    const now = performance.now();
    if (this.current === undefined || now - this.madeAt >= this.timeoutMs / 10) {
      this.madeAt = now;
      const timeoutMs = this.timeoutMs;
      this.current = new Promise<never>((_resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
        // Node and Bun: the timer alone keeps no process running (Deno's timers are numbers).
        (timer as { unref?: () => void }).unref?.();
      });
      // It may fire with no command racing it.
      this.current.catch(() => {});
    }
    return this.current;
  }
}
