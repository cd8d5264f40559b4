/**
 * Reads an SSE response body with eventsource-parser (a real spec parser), event by event.
 * Works in Node and inside workerd.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * How long a test waits for something that should happen: far longer than it takes on a quiet machine,
 * so that a loaded one is only slower, never red. Waits for something that should *not* happen pass a
 * short timeout of their own.
 */
export const PATIENCE_MS = 30_000;

export interface SseReader {
  /** Resolves with the next event, or rejects once `timeoutMs` passes without one. */
  next(timeoutMs?: number): Promise<EventSourceMessage>;
  /**
   * Resolves once the first bytes (the opening comment or `retry:`) arrived: the server has then
   * started the stream, as it has for any client that saw the response headers.
   */
  opened(timeoutMs?: number): Promise<void>;
  /** Cancels the body, as a client that leaves. */
  cancel(): Promise<void>;
  readonly comments: string[];
  readonly retries: number[];
}

export function readEvents(response: Response): SseReader {
  if (!response.body) throw new Error("response has no body");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const queue: EventSourceMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = createParser({
    onEvent: (event) => queue.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (retry) => retries.push(retry),
  });
  let pending: Promise<void> | undefined;
  let bytesRead = 0;

  const pump = async () => {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended");
    bytesRead += value.byteLength;
    parser.feed(decoder.decode(value, { stream: true }));
  };

  return {
    comments,
    retries,
    async next(timeoutMs = PATIENCE_MS) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        pending ??= pump().finally(() => {
          pending = undefined;
        });
        const left = deadline - Date.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), Math.max(0, left));
        });
        try {
          await Promise.race([pending, timeout]);
        } finally {
          if (timer !== undefined) clearTimeout(timer);
        }
      }
      return queue.shift() as EventSourceMessage;
    },
    async opened(timeoutMs = PATIENCE_MS) {
      const deadline = Date.now() + timeoutMs;
      while (bytesRead === 0) {
        if (Date.now() > deadline) throw new Error(`no bytes within ${timeoutMs} ms`);
        pending ??= pump().finally(() => {
          pending = undefined;
        });
        await pending;
      }
    },
    cancel: () => reader.cancel(),
  };
}

/** Polls `read` until it returns `want`, or gives up after `timeoutMs` with the last value seen. */
export async function eventually<T>(read: () => Promise<T>, want: T, timeoutMs = PATIENCE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (last !== want && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  return last;
}
