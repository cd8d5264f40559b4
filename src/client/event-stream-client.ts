/**
 * A Server-Sent Events client on `fetch` (browsers, Node, Deno, Bun, Workers): any method, body and
 * headers, headers and URL asked for again before every attempt, reconnection with backoff and full
 * jitter that honours the server's `retry:`, resumption with `Last-Event-ID` without the caller
 * doing anything, and typed handlers per event name. Parsing is eventsource-parser's.
 *
 * Unlike `EventSource` it stops for good on a status that retrying cannot help (401, 403, 404...)
 * and on 204, and says why (`onClose`), and it stays connected in a hidden tab.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { BACKOFF_DEFAULTS, backoffDelay } from "./backoff.ts";
import { canShare, runShared } from "./shared-stream.ts";
import type { AnyEvents, CloseReason, EventHandler, EventStreamOptions, ReceivedEvent } from "./types.ts";

export class EventStreamClient<Events extends object = AnyEvents> {
  /** The last `id:` received: sent as `Last-Event-ID` when the client reconnects. */
  lastEventId: string | undefined;
  /** @internal Shared streams (shared-stream.ts): whether this tab holds the connection. */
  isLeader = false;
  /** @internal Told of every event this client received from its own connection, as it came. */
  onDispatch: ((event: string, data: string, id: string | undefined) => void) | undefined;
  /** @internal Told of every successful connection. */
  onConnected: (() => void) | undefined;
  /** @internal Told of every failed attempt or dropped connection. */
  onLost: ((error: unknown) => void) | undefined;
  /** @internal Told once, when the stream stops for good. */
  onFinish: (() => void) | undefined;
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly aborter = new AbortController();
  private isClosed = false;
  private baseDelayMs: number;

  constructor(private readonly options: EventStreamOptions) {
    this.lastEventId = options.lastEventId;
    this.baseDelayMs = options.backoff?.initialMs ?? BACKOFF_DEFAULTS.initialMs;
    const signal = options.signal;
    if (signal?.aborted) queueMicrotask(() => this.close());
    else signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Aborted when the stream stops for good. */
  get finished(): AbortSignal {
    return this.aborter.signal;
  }

  /** Calls `handler` for every event named `event` (`message`: events the server named none). */
  on<Name extends keyof Events & string>(event: Name, handler: EventHandler<Events[Name]>): () => void {
    let handlers = this.handlers.get(event);
    if (handlers === undefined) {
      handlers = new Set();
      this.handlers.set(event, handlers);
    }
    handlers.add(handler as EventHandler);
    return () => handlers.delete(handler as EventHandler);
  }

  /** Stops for good: the connection is aborted, `onClose` is told `{ kind: "closed" }`. */
  close(): void {
    this.finish({ kind: "closed" });
  }

  /** Connects, and reconnects until closed. Started by `connectEventStream`. */
  async run(): Promise<void> {
    const maxMs = this.options.backoff?.maxMs ?? BACKOFF_DEFAULTS.maxMs;
    let attempt = 0;
    while (!this.isClosed) {
      let waitMs: number | undefined;
      try {
        const response = await this.connect();
        if (response === undefined) return;
        attempt = 0;
        this.options.onOpen?.(response);
        this.onConnected?.();
        await this.read(response.body as ReadableStream<Uint8Array>);
        if (this.isClosed) return;
        // The server ended the stream: come back, as EventSource does, after its retry (jittered).
        this.lost(new Error("the stream ended"));
      } catch (error) {
        if (this.isClosed) return;
        waitMs = error instanceof RetryAfterError ? error.waitMs : undefined;
        this.lost(error);
      }
      await this.sleep(waitMs ?? backoffDelay(attempt++, this.baseDelayMs, maxMs));
    }
  }

  /** One attempt: the response to read, or undefined when the stream stopped for good. */
  private async connect(): Promise<Response | undefined> {
    const { options } = this;
    const url = typeof options.url === "function" ? await options.url() : options.url;
    const headers = new Headers(typeof options.headers === "function" ? await options.headers() : options.headers);
    headers.set("accept", "text/event-stream");
    if (this.lastEventId !== undefined) headers.set("last-event-id", this.lastEventId);
    const body = typeof options.body === "function" ? await options.body() : options.body;
    const response = await (options.fetch ?? fetch)(url, {
      method: options.method ?? "GET",
      headers,
      body,
      signal: this.aborter.signal,
      cache: "no-store",
    });
    if (response.status === 204) {
      this.finish({ kind: "no-content" });
      return undefined;
    }
    if (!response.ok) {
      await response.body?.cancel();
      if (isFinal(response.status)) {
        this.finish({ kind: "refused", status: response.status, response });
        return undefined;
      }
      const retryAfter = Number(response.headers.get("retry-after"));
      throw retryAfter > 0
        ? new RetryAfterError(response.status, retryAfter * 1000)
        : new Error(`the server answered ${response.status}`);
    }
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || response.body === null) {
      await response.body?.cancel();
      throw new Error(`expected text/event-stream, got ${type || "no content type"}`);
    }
    return response;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const parser = createParser({
      onEvent: (message) => this.dispatch(message),
      onRetry: (retry) => {
        this.baseDelayMs = retry;
      },
    });
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.isClosed) return;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
  }

  private dispatch(message: EventSourceMessage): void {
    const event = message.event ?? "message";
    this.deliver(event, message.data, message.id);
    this.onDispatch?.(event, message.data, message.id);
  }

  /** Hands an event to its handlers, as received from this client's connection or its leader's. */
  deliver(event: string, data: string, id: string | undefined): void {
    // "If the field value does not contain U+0000 NULL, then set the last event ID buffer" (WHATWG).
    if (id !== undefined) this.lastEventId = id;
    const handlers = this.handlers.get(event);
    if (handlers === undefined || handlers.size === 0) return;
    const received: ReceivedEvent = { event, data: parsed(data), id };
    for (const handler of handlers) handler(received);
  }

  private lost(error: unknown): void {
    this.options.onError?.(error);
    this.onLost?.(error);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.aborter.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
  }

  private finish(reason: CloseReason): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.aborter.abort();
    this.onFinish?.();
    this.options.onClose?.(reason);
  }
}

/**
 * Opens the stream and keeps it open until `close()`, the signal, a 204 or a refusal. With `share`,
 * in a browser, the tabs of the origin that use the same name share one connection.
 */
export function connectEventStream<Events extends object = AnyEvents>(
  options: EventStreamOptions,
): EventStreamClient<Events> {
  const client = new EventStreamClient<Events>(options);
  if (options.share !== undefined && canShare()) runShared(client as EventStreamClient<object>, options.share, options);
  else client.run().catch((error) => options.onError?.(error));
  return client;
}

/** A 4xx says the request itself is wrong: retrying cannot help, except a timeout or a rate limit. */
function isFinal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** The server asked for a wait (`Retry-After`, with a 429 or 503). */
class RetryAfterError extends Error {
  constructor(
    readonly status: number,
    readonly waitMs: number,
  ) {
    super(`the server answered ${status}: retry after ${waitMs} ms`);
  }
}

function parsed(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
