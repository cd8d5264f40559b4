/**
 * One connection for every tab of an origin. Tabs that open a stream under the same `share` name
 * elect a leader with a Web Lock: the leader holds the connection and posts each event on a
 * BroadcastChannel of that name; the others dispatch what it posts. Every tab keeps the last event id
 * it saw, so when the leader's tab closes (its lock is released by the browser) the next tab in line
 * connects from there: nothing lost (the server replays after that id), nothing twice (every tab saw
 * the same events up to it). A tab that joins asks the leader where it is: it takes the leader's last
 * id as its own (it gets everything after it from the leader), and is told open if the leader's
 * connection is; the leader's lost connections reach every tab's `onError` too.
 */
import type { EventStreamClient } from "./event-stream-client.ts";
import type { EventStreamOptions } from "./types.ts";

/** What the leader posts to the other tabs. */
type SharedMessage =
  | { kind: "event"; event: string; data: string; id: string | undefined }
  | { kind: "open" }
  | { kind: "lost"; message: string }
  | { kind: "ask" }
  | { kind: "state"; id: string | undefined; open: boolean };

/** The part of the Web Locks API used here (declared here: Deno's and Node's libraries lack it). */
interface LockManager {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

function locks(): LockManager | undefined {
  return (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
}

/** Whether this environment can share (a browser with Web Locks and BroadcastChannel). */
export function canShare(): boolean {
  return typeof BroadcastChannel === "function" && typeof locks()?.request === "function";
}

/**
 * Runs `client` (a stream of this tab's, not yet started) as one tab of the shared stream `name`.
 * It dispatches as if it held the connection; only the leader really does.
 */
export function runShared(client: EventStreamClient<object>, name: string, options: EventStreamOptions): void {
  const channel = new BroadcastChannel(`edge-sse:${name}`);
  const released = new Promise<void>((resolve) => {
    client.onFinish = () => {
      channel.close();
      resolve();
    };
  });

  const post = (message: SharedMessage) => channel.postMessage(message);
  const opened = () => options.onOpen?.(new Response(null, { status: 200 }));
  let open = false; // the leader's connection, while this tab leads

  channel.onmessage = ({ data }: MessageEvent<SharedMessage>) => {
    if (client.closed) return;
    if (data.kind === "event") client.deliver(data.event, data.data, data.id);
    else if (data.kind === "open") opened();
    else if (data.kind === "lost") options.onError?.(new Error(data.message));
    else if (data.kind === "ask" && client.isLeader) post({ kind: "state", id: client.lastEventId, open });
    else if (data.kind === "state" && !client.isLeader) {
      // Replaces even an id this tab was given: from here on it gets what the leader gets, and should
      // it lead next, starting from an older id would show the other tabs events a second time.
      client.lastEventId = data.id;
      if (data.open) opened();
    }
  };
  // A tab that joins late learns where the others are, so that if it leads next it starts there.
  post({ kind: "ask" });

  (locks() as LockManager)
    .request(`edge-sse:${name}`, { signal: client.finished }, async () => {
      if (client.closed) return;
      client.isLeader = true;
      client.onDispatch = (event, data, id) => post({ kind: "event", event, data, id });
      client.onConnected = () => {
        open = true;
        post({ kind: "open" });
      };
      client.onLost = (error) => {
        open = false;
        post({ kind: "lost", message: error instanceof Error ? error.message : String(error) });
      };
      await Promise.race([client.run(), released]);
    })
    .catch(() => {
      // The request was aborted: this tab closed its stream while waiting to lead.
    });
}
