/**
 * How a server process (Node, Bun, Deno) goes away on SIGTERM or SIGINT: `/readyz` fails at once
 * and, after `SHUTDOWN_DELAY_MS` (0 by default) of serving as usual, it stops accepting, ends
 * every stream with a `retry:` and a final comment (after what is already queued), waits until
 * the server has sent them or `SHUTDOWN_TIMEOUT_MS` has passed, and exits. A second signal exits
 * at once. The entries only say how their server stops; see docs/reliability.md ("Shutdown").
 */
import type { Logger } from "../log/logger.ts";
import type { OpenStreams } from "../sse/index.ts";
import type { Readiness } from "./health.ts";

export interface ShutdownPlan {
  /** The app's open streams (the same object given to `createApp`). */
  openStreams: OpenStreams;
  /**
   * Stops accepting connections; resolves once the server has finished its responses and closed
   * its connections, so the ended streams have reached their clients.
   */
  stopServer(): Promise<unknown>;
  /** How long to wait for that before exiting anyway: a client that reads nothing must not hold the exit. */
  timeoutMs: number;
  /** `/readyz`'s state (the one given to `createApp`): draining from the signal on. */
  readiness: Readiness;
  /**
   * How long to go on serving after the signal with `/readyz` failing, before stopping: a load
   * balancer or Kubernetes stops sending new clients only once it has seen that.
   */
  delayMs: number;
  exit(code: number): void;
  logger: Logger;
}

/** Returns the handler for SIGTERM and SIGINT. */
export function shutdownOnSignal(plan: ShutdownPlan): (signal: string) => void {
  let started = false;
  return (signal) => {
    if (started) {
      plan.logger.warn(`${signal} again: exiting now`, { signal });
      plan.exit(1);
      return;
    }
    started = true;
    plan.readiness.draining = true;
    if (plan.delayMs === 0) {
      stop(signal);
      return;
    }
    plan.logger.info(`${signal}: not ready any more; stopping in ${plan.delayMs} ms`, {
      signal,
      delayMs: plan.delayMs,
    });
    setTimeout(stop, plan.delayMs, signal);
  };

  function stop(signal: string) {
    // Stop accepting first, so that no stream opens after the others were ended (one whose
    // request was already in flight is ended as soon as it starts; see OpenStreams.track).
    const serverClosed = plan.stopServer().then(
      () => true,
      (error) => {
        plan.logger.error("stopping the server failed", { error });
        return true;
      },
    );
    // At the end of this turn, not now: the in-memory hub sends what was published in this turn
    // at its end (see Channel.publish), and a message already answered 201 must reach the
    // streams before they end.
    setImmediate(() => {
      const ended = plan.openStreams.shutdown();
      plan.logger.info(`${signal}: stopped accepting and ended ${ended} streams; exiting once they are sent`, {
        signal,
        streams: ended,
      });
    });
    // No need to clear this timer: the process exits either way.
    const timedOut = new Promise<false>((resolve) => setTimeout(resolve, plan.timeoutMs, false));
    void Promise.race([serverClosed, timedOut]).then((closed) => {
      if (closed) plan.logger.info("every stream sent: exiting");
      else
        plan.logger.warn(`streams still unsent after ${plan.timeoutMs} ms: exiting anyway`, {
          timeoutMs: plan.timeoutMs,
        });
      plan.exit(0);
    });
  }
}
