/**
 * An object's subscriber counts (in all, per client address, catching up), kept in memory and
 * counted again from the sockets themselves (tags and attachments) when needed after the object
 * starts or wakes, or after a socket closed. Joins only add: asking `ctx.getWebSockets()` at every
 * join made a wrapper for every socket each time, and measured under wrangler dev, 5000
 * subscribers of one object could not all connect within two minutes that way. A close makes the
 * counts be taken again instead of subtracting: one socket's close may be reported both as close
 * and as error, each time with a wrapper of its own, so it cannot be told apart from another's.
 */
import { OWN_TAG_PREFIX, PRESENCE_TAG, SUBSCRIBER_TAG, type SubscriberAttachment } from "./protocol.ts";

interface Counts {
  total: number;
  catchingUp: number;
  perClient: Map<string, number>;
}

export class SocketCounts {
  private counts: Counts | undefined;

  constructor(private readonly ctx: DurableObjectState) {}

  get total(): number {
    return this.current().total;
  }

  get catchingUp(): number {
    return this.current().catchingUp;
  }

  ofClient(client: string): number {
    return this.current().perClient.get(client) ?? 0;
  }

  /** Before a socket from `client` is accepted. */
  adding(client: string | undefined, catchingUp: boolean): void {
    const counts = this.current();
    counts.total++;
    if (catchingUp) counts.catchingUp++;
    if (client !== undefined) counts.perClient.set(client, (counts.perClient.get(client) ?? 0) + 1);
  }

  /** The socket's subscriber has caught up (its attachment still says it had not). */
  caughtUp(): void {
    if (this.counts !== undefined) this.counts.catchingUp--;
  }

  /** A socket closed (or failed): count again when next asked. */
  removed(): void {
    this.counts = undefined;
  }

  /** Every client's count, for a shard's full report. */
  clients(): Record<string, number> {
    return Object.fromEntries(this.current().perClient);
  }

  private current(): Counts {
    this.counts ??= this.count();
    return this.counts;
  }

  private count(): Counts {
    const counts: Counts = { total: 0, catchingUp: 0, perClient: new Map() };
    for (const socket of this.ctx.getWebSockets(SUBSCRIBER_TAG)) {
      // One whose close is being handled may still be listed.
      if (socket.readyState !== WebSocket.OPEN) continue;
      counts.total++;
      if (isCatchingUp(socket)) counts.catchingUp++;
      const client = clientOf(this.ctx, socket);
      if (client !== undefined) counts.perClient.set(client, (counts.perClient.get(client) ?? 0) + 1);
    }
    return counts;
  }
}

/** The client address a socket was tagged with (see socketTags), if any. */
export function clientOf(ctx: DurableObjectState, socket: WebSocket): string | undefined {
  const first = ctx.getTags(socket)[0];
  return first?.startsWith(OWN_TAG_PREFIX) ? undefined : first;
}

/**
 * Sends `count` as a presence message (a text message; messages are binary frames) to the sockets
 * whose subscribers asked for it. At most once a second per object (see Presence in channel-object.ts).
 */
export function sendPresence(ctx: DurableObjectState, count: string): void {
  for (const socket of ctx.getWebSockets(PRESENCE_TAG)) {
    try {
      socket.send(count);
    } catch {
      // Closing already.
    }
  }
}

export function isCatchingUp(socket: WebSocket): boolean {
  return (socket.deserializeAttachment() as SubscriberAttachment | null)?.live === false;
}
