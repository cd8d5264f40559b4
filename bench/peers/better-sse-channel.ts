/** What both better-sse peers share: one Channel and the session options. */
import { createChannel, type Session, type SessionOptions } from "better-sse";

export const channel = createChannel();

export const SESSION_OPTIONS: SessionOptions = {
  // The published body is already the text to send; the default serializer would JSON-encode it again.
  serializer: (data) => data as string,
  // The contract opens with a bare comment (written in `join`), not a retry field.
  retry: null,
  // No keep-alive comments: none of the other peers sends them either.
  keepAlive: null,
};

/** Called once a session is connected: opening comment, then channel membership. */
export function join(session: Session): void {
  // The first write releases the headers (Bun holds them until then).
  void session.batch((buffer) => {
    buffer.comment().dispatch();
  });
  // The channel deregisters the session by itself when it disconnects.
  channel.register(session);
}

/** Broadcasts one payload to every registered session. */
export function publish(payload: string): void {
  channel.broadcast(payload);
}
