/**
 * The client's types. Event maps are the server's (`{ tick: { at: string } }`: a name to the data it
 * carries), written once and shared by type only: nothing here imports server code.
 */

/** Any event name, any data. */
export type AnyEvents = Record<string, unknown>;

/** One event as a handler gets it: its data parsed from JSON where it is JSON, else the text. */
export interface ReceivedEvent<Data = unknown> {
  /** The event type (`message` when the server named none). */
  event: string;
  data: Data;
  /** The `id:` field, if the event had one (the stream's Last-Event-ID is then this). */
  id: string | undefined;
}

export type EventHandler<Data = unknown> = (event: ReceivedEvent<Data>) => void;

/** Why a stream stopped for good (it never reconnects after any of these). */
export type CloseReason =
  /** `close()` or the `signal` aborted. */
  | { kind: "closed" }
  /** 204 No Content: the server says there is nothing to follow. */
  | { kind: "no-content" }
  /** A status that retrying cannot help (401, 403, 404, 405, 410, any 4xx but 408 and 429). */
  | { kind: "refused"; status: number; response: Response };

type Awaitable<T> = T | Promise<T>;

export interface EventStreamOptions {
  /** Where to connect; a function is called before every attempt (a URL that carries a fresh token). */
  url: string | URL | (() => Awaitable<string | URL>);
  /** GET unless told otherwise: any method, with a body. */
  method?: string;
  /** Called before every attempt too, so a refreshed token is used on the next one. */
  headers?: HeadersInit | (() => Awaitable<HeadersInit>);
  body?: BodyInit | (() => Awaitable<BodyInit>);
  /** Resume after this id on the first attempt (then the last id received). */
  lastEventId?: string;
  /** The fetch to use (a test's, an authenticated wrapper). Default: the global fetch. */
  fetch?: typeof fetch;
  /** Aborting it closes the stream for good, as `close()`. */
  signal?: AbortSignal;
  /** Backoff between attempts (see backoff.ts). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Called once per successful connection (a 2xx `text/event-stream`). */
  onOpen?: (response: Response) => void;
  /** Called for every failed attempt or dropped connection, before the wait for the next one. */
  onError?: (error: unknown) => void;
  /** Called exactly once, when the stream stops for good, with why. */
  onClose?: (reason: CloseReason) => void;
  /**
   * Share one connection among this origin's tabs that use the same name (a browser with Web Locks
   * and BroadcastChannel; elsewhere ignored): one tab holds it, the others get its events. Leave it
   * out for a stream of this tab's own. A tab that joins gets the events from when it joined, and is
   * told open if the stream is: `lastEventId` is then only where the leader starts, and what came
   * before the join is the page's to fetch (its history route, say).
   */
  share?: string;
}
