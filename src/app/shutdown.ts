/**
 * How a server process (Node, Bun, Deno) goes away on SIGTERM or SIGINT: it stops accepting, ends
 * every stream with a `retry:` and a final comment (after what is already queued), waits until
 * the server has sent them or `SHUTDOWN_TIMEOUT_MS` has passed, and exits. A second signal exits
 * at once. The entries only say how their server stops; see docs/reliability.md ("Shutdown").
 */
import type { OpenStreams } from "../sse/index.ts";

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
  exit(code: number): void;
}

/** Returns the handler for SIGTERM and SIGINT. */
export function shutdownOnSignal(plan: ShutdownPlan): (signal: string) => void {
  let started = false;
  return (signal) => {
    if (started) {
      console.log(`edge-sse: ${signal} again: exiting now`);
      plan.exit(1);
      return;
    }
    started = true;
    // Stop accepting first, so that no stream opens after the others were ended (one whose
    // request was already in flight is ended as soon as it starts; see OpenStreams.track).
    const serverClosed = plan.stopServer().then(
      () => true,
      (error) => {
        console.error("edge-sse: stopping the server failed", error);
        return true;
      },
    );
    const ended = plan.openStreams.shutdown();
    console.log(`edge-sse: ${signal}: stopped accepting and ended ${ended} streams; exiting once they are sent`);
    // No need to clear this timer: the process exits either way.
    const timedOut = new Promise<false>((resolve) => setTimeout(resolve, plan.timeoutMs, false));
    void Promise.race([serverClosed, timedOut]).then((closed) => {
      if (!closed) console.log(`edge-sse: streams still unsent after ${plan.timeoutMs} ms: exiting anyway`);
      plan.exit(0);
    });
  };
}
