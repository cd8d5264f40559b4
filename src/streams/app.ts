/**
 * The Durable Streams protocol (ElectricSQL, PROTOCOL.md v1.0) as a Hono sub-app over any backend's
 * `StreamLog`: mount it where streams should live (`app.route("/v1/stream", durableStreams({ log }))`).
 * `PUT` creates (or forks), `POST` appends and closes, `GET` reads (catch-up, `live=long-poll`,
 * `live=sse`), `HEAD` gives metadata, `DELETE` deletes. Every error is edge-sse's JSON shape with the
 * status the protocol names.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppendResult, CreateRequest, ReadResult, StreamLog } from "../hub/log.ts";
import {
  isJsonStream,
  mediaTypeOf,
  type ProducerTuple,
  type ReadPosition,
  type StreamRecord,
} from "../hub/stream-rules.ts";
import { type EventStreamOptions, errorBody } from "../sse/index.ts";
import { bodyOf, entriesOf, type RequestBody, readBody } from "./body.ts";
import { StreamChanges } from "./changes.ts";
import { nextCursor } from "./cursor.ts";
import { badRequest, StreamError } from "./errors.ts";
import { formatOffset, parseOffset } from "./offset.ts";
import {
  closeRequested,
  contentTypeOf,
  expiryOf,
  producerOf,
  readQueryOf,
  streamSeqOf,
  wholeNumber,
} from "./request.ts";
import { SSE_MAX_AGE_MS, sseResponse } from "./sse.ts";

export interface DurableStreamsOptions {
  log: StreamLog;
  /** How long `live=long-poll` waits for data before it answers 204. Default 15 s. */
  longPollTimeoutMs?: number;
  /** The largest body one `PUT` or `POST` may carry (413 beyond). Default 1 MiB; 0: no limit. */
  maxAppendBytes?: number;
  /** Roughly how much one catch-up read returns (at least one whole append). Default 1 MiB. */
  maxReadBytes?: number;
  /** How long a `live=sse` response lasts before the client reconnects from its offset. Default 60 s. */
  sseMaxAgeMs?: number;
  /** How `live=sse` responses behave (keep-alive, buffers, caps, the request's signal), per request. */
  eventStreamOptions?: (c: Context) => EventStreamOptions;
  /**
   * Run before reads (GET, HEAD) and writes (PUT, POST, DELETE): authorization, rate limits. One
   * that adds headers to the answer sets them on `c.res` after `await next()`: answers are made
   * whole by the routes, without what `c.header()` staged before them.
   */
  authorizeRead?: MiddlewareHandler;
  authorizeWrite?: MiddlewareHandler;
  /**
   * Browser origins that may call the streams; `"*"` (the default) any, without credentials (tokens
   * travel in `Authorization`, which a browser only sends when the page's code adds it).
   */
  corsOrigins?: string[] | "*";
  /** Catch-up reads are `public` (shared caches may keep them, §10.1) or `private`. Default public. */
  cacheScope?: "public" | "private";
  /**
   * A request's body as the runtime already holds it, read without the web `Request`'s machinery:
   * on Node, `incomingBody` from `edge-sse/node`. Default: the web `Request`'s body.
   */
  requestBody?: RequestBody;
}

/** Response headers on every answer (§12.7). */
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "cross-origin",
} as const;

function setHeaders(headers: Headers, values: Readonly<Record<string, string>>): void {
  for (const name in values) headers.set(name, values[name] as string);
}

/**
 * Adds the headers of every answer to a request (not a preflight) to `headers`: the security headers
 * and CORS's, for the request's `Origin` when only some origins may call. Added one by one to the
 * answer's own object: measured on Node 20, a copy of a shared object (`{ ...values }`) merged with
 * `Object.assign` cost about 1.5 µs per answer, ten times these assignments.
 */
function everyAnswerHeaders(
  origins: string[] | "*",
): (c: Context, headers: Record<string, string>) => Record<string, string> {
  const exposed = EXPOSED_HEADERS.join(",");
  if (origins === "*") {
    const values: Readonly<Record<string, string>> = {
      ...SECURITY_HEADERS,
      "access-control-allow-origin": "*",
      "access-control-expose-headers": exposed,
    };
    return (_c, headers) => {
      for (const name in values) headers[name] = values[name] as string;
      return headers;
    };
  }
  const values: Readonly<Record<string, string>> = {
    ...SECURITY_HEADERS,
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": exposed,
    vary: "Origin",
  };
  return (c, headers) => {
    for (const name in values) headers[name] = values[name] as string;
    const origin = c.req.header("origin");
    if (origin !== undefined && origins.includes(origin)) headers["access-control-allow-origin"] = origin;
    return headers;
  };
}

const PROTOCOL_HEADERS = [
  "content-type",
  "authorization",
  "if-none-match",
  "stream-ttl",
  "stream-expires-at",
  "stream-closed",
  "stream-seq",
  "stream-forked-from",
  "stream-fork-offset",
  "stream-fork-sub-offset",
  "producer-id",
  "producer-epoch",
  "producer-seq",
];
const EXPOSED_HEADERS = [
  "etag",
  "location",
  "retry-after",
  "stream-next-offset",
  "stream-cursor",
  "stream-up-to-date",
  "stream-closed",
  "stream-ttl",
  "stream-expires-at",
  "stream-sse-data-encoding",
  "producer-epoch",
  "producer-seq",
  "producer-expected-seq",
  "producer-received-seq",
];

const MiB = 1024 * 1024;

/**
 * Marks an answer made with all its headers (`written`), which the routes' middleware then leaves
 * as it is. A property, not a WeakSet: measured on Node, adding each answer to a WeakSet cost about
 * as much again as making it.
 */
const WHOLE = Symbol("whole answer");
type Whole = Response & { [WHOLE]?: true };

/** The name of the stream a request is about (the path below where the sub-app is mounted). */
export function streamNameOf(c: Context): string {
  const name = c.req.param("name");
  if (name === undefined) throw new StreamError(404, "not_found", "no stream named");
  return name;
}

export function durableStreams(options: DurableStreamsOptions) {
  const { log } = options;
  const longPollTimeoutMs = options.longPollTimeoutMs ?? 15_000;
  const maxAppendBytes = options.maxAppendBytes ?? MiB;
  const maxReadBytes = options.maxReadBytes ?? MiB;
  const cacheControl = `${options.cacheScope ?? "public"}, max-age=60, stale-while-revalidate=300`;
  const pass: MiddlewareHandler = (_c, next) => next();
  // The authorization may throw the protocol's errors too (a malformed Stream-Forked-From).
  const authorizeRead = options.authorizeRead === undefined ? pass : answeringErrors(options.authorizeRead);
  const authorizeWrite = options.authorizeWrite === undefined ? pass : answeringErrors(options.authorizeWrite);

  const app = new Hono();
  const origins = options.corsOrigins ?? "*";
  const preflight = cors({
    origin: origins,
    credentials: origins !== "*",
    allowMethods: ["GET", "HEAD", "PUT", "POST", "DELETE"],
    allowHeaders: PROTOCOL_HEADERS,
    exposeHeaders: EXPOSED_HEADERS,
  });
  const everyAnswer = everyAnswerHeaders(origins);
  // A write's answer is made with every header it carries, in a plain object (`written`): on Node,
  // @hono/node-server then writes it as it is, where a `Headers` (Hono's c.body with more than one
  // header, or any c.header) costs building, validating and iterating (undici), and so does every
  // header set on it afterwards. Such an answer leaves out headers a middleware staged with c.header
  // before the handler: one adds headers to an answer after `await next()` (as the rate limit does).
  const written = (c: Context, status: number, headers: Record<string, string> = {}): Response => {
    const answer: Whole = new Response(null, { status, headers: everyAnswer(c, headers) });
    answer[WHOLE] = true;
    return answer;
  };
  // Every other answer (reads, errors, preflights) gets the same headers once the handler (or an
  // error handler) made it, as Hono's cors() gives an actual request. cors() sets them before the
  // handler instead, which makes Hono create a placeholder response and then copy the handler's
  // into a new one (`new Response(res.body, res)`).
  app.use(async (c, next) => {
    if (c.req.method === "OPTIONS") {
      const answer = (await preflight(c, next)) ?? c.res;
      setHeaders(answer.headers, SECURITY_HEADERS);
      return answer;
    }
    await next();
    if ((c.res as Whole)[WHOLE]) return;
    const headers = c.res.headers;
    const values = everyAnswer(c, {});
    for (const name in values) {
      if (name === "vary") headers.append(name, values[name] as string);
      else headers.set(name, values[name] as string);
    }
  });

  const path = "/:name{.+}";

  const create = async (c: Context): Promise<Response> => {
    const name = checkedName(streamNameOf(c));
    const headers = c.req.raw.headers;
    const request: CreateRequest = {
      contentType: contentTypeOf(headers) ?? null,
      ...expiryOf(headers),
      closed: closeRequested(headers),
      entries: [],
      fork: forkOf(c, headers),
    };
    const body = await readBody(c, maxAppendBytes, options.requestBody);
    // A fork without a Content-Type is of its source's type: its body is parsed as the log decides.
    request.entries = entriesOf(body, request.contentType ?? (await forkContentType(log, request)), true);
    const result = await log.create(name, request);
    switch (result.kind) {
      case "created":
      case "exists": {
        const answer = tailHeaders(result.record);
        answer["content-type"] = result.record.contentType;
        if (result.kind === "created") answer.location = c.req.url.split("?")[0] as string;
        return written(c, result.kind === "created" ? 201 : 200, answer);
      }
      case "conflict":
        throw new StreamError(409, "conflict", `the stream exists and does not match: ${result.message}`);
      case "fork-source-missing":
        throw new StreamError(404, "not_found", "no stream to fork from at Stream-Forked-From");
      case "invalid-fork":
        throw badRequest("invalid_fork", result.message);
      case "too-large":
        throw new StreamError(413, "stream_too_large", result.message);
    }
  };

  const append = async (c: Context): Promise<Response> => {
    const name = checkedName(streamNameOf(c));
    const headers = c.req.raw.headers;
    const producer = producerOf(headers);
    const streamSeq = streamSeqOf(headers);
    const close = closeRequested(headers);
    const contentType = contentTypeOf(headers);
    const body = await readBody(c, maxAppendBytes, options.requestBody);
    if (body.byteLength === 0 && !close) throw badRequest("invalid_body", "an append needs a body");
    if (body.byteLength > 0 && contentType === undefined) {
      throw badRequest("invalid_header", "an append with a body needs a Content-Type");
    }
    // Parsed as the request says it is: a mismatch with the stream is answered 409 by the log.
    let entries: Uint8Array[];
    try {
      entries = body.byteLength === 0 ? [] : entriesOf(body, contentType as string, false);
    } catch (error) {
      // A body that is not what it claims: the stream's own state answers first, as for any append.
      throw (await streamStateError(log, name, contentType as string)) ?? error;
    }
    const result = await log.append(name, { entries, contentType, close, streamSeq, producer });
    return appendAnswer(result, producer, (status, headers) => written(c, status, headers));
  };

  const remove = async (c: Context): Promise<Response> => {
    const result = await log.delete(checkedName(streamNameOf(c)));
    if (result === "not-found") throw notFound();
    if (result === "gone") throw gone();
    return written(c, 204);
  };

  const read = async (c: Context): Promise<Response> => {
    const name = checkedName(streamNameOf(c));
    if (c.req.method === "HEAD") return headAnswer(await log.head(name));
    const query = readQueryOf(new URL(c.req.url));

    if (query.live === "sse") {
      const result = await log.read(name, query.from, 0);
      const record = foundRecord(result);
      return sseResponse({
        log,
        name,
        record,
        from: query.from,
        cursor: query.cursor,
        maxReadBytes,
        maxAgeMs: options.sseMaxAgeMs ?? SSE_MAX_AGE_MS,
        stream: options.eventStreamOptions?.(c) ?? {},
      });
    }

    if (query.live === "long-poll") {
      const result = await longPoll(log, name, query.from, maxReadBytes, longPollTimeoutMs, c.req.raw.signal);
      const record = foundRecord(result);
      const found = result as Extract<ReadResult, { kind: "found" }>;
      if (found.entries.length === 0) {
        const answer = new Headers(tailHeaders(record));
        answer.set("stream-up-to-date", "true");
        if (!record.closed) answer.set("stream-cursor", nextCursor(query.cursor));
        answer.set("cache-control", "no-store");
        return new Response(null, { status: 204, headers: answer });
      }
      const answer = readAnswer(found, c, cacheControl);
      if (!(found.record.closed && found.next === found.record.tail)) {
        answer.headers.set("stream-cursor", nextCursor(query.cursor));
      }
      return answer;
    }

    const result = await log.read(name, query.from, maxReadBytes);
    foundRecord(result);
    const found = result as Extract<ReadResult, { kind: "found" }>;
    if (query.from === "tail") {
      // offset=now: no data and nothing to cache (§8).
      const answer = readAnswer(found, c, "no-store");
      answer.headers.delete("etag");
      return answer;
    }
    return readAnswer(found, c, cacheControl);
  };

  // The protocol's errors are answered by each route, not by app.onError: Hono runs every
  // handler of a sub-app with an error handler of its own inside one more composed chain
  // (hono-base's route()), three more awaited steps on every append.
  app.put(path, authorizeWrite, answeringErrors(create));
  app.post(path, authorizeWrite, answeringErrors(append));
  app.delete(path, authorizeWrite, answeringErrors(remove));
  app.get(path, authorizeRead, answeringErrors(read));

  return app;
}

/**
 * `handler`, with the protocol's errors (StreamError) answered in edge-sse's JSON shape and the
 * status the protocol names; any other error goes on to the host app's error handler. Answered
 * with the context (c.json), so that headers a middleware set before the handler (c.header) are
 * on them; the security and CORS headers are added by the middleware, as to every answer.
 */
function answeringErrors(handler: MiddlewareHandler): MiddlewareHandler {
  return async (c, next) => {
    try {
      return await handler(c, next);
    } catch (error) {
      if (!(error instanceof StreamError)) throw error;
      return c.json(errorBody(error.code, error.message), error.status as ContentfulStatusCode, error.headers);
    }
  };
}

/** Waits (at most `timeoutMs`) until there is something after `from`, or the stream is closed. */
async function longPoll(
  log: StreamLog,
  name: string,
  from: ReadPosition,
  maxBytes: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ReadResult> {
  const deadline = Date.now() + timeoutMs;
  let position = from;
  // Watch before reading: an append between the read and the wait still wakes us.
  const changes = new StreamChanges(log, name);
  try {
    for (;;) {
      const result = await log.read(name, position, maxBytes);
      if (result.kind !== "found") return result;
      if (result.entries.length > 0 || result.record.closed) return result;
      position = result.next;
      if ((await changes.next(deadline, signal)) === undefined) return result;
    }
  } finally {
    changes.stop();
  }
}

/** Why `name` refuses any append of `contentType` whatever its body (404, 410, 409), or undefined. */
async function streamStateError(log: StreamLog, name: string, contentType: string): Promise<StreamError | undefined> {
  const lookup = await log.head(name);
  if (lookup.kind === "not-found") return notFound();
  if (lookup.kind === "gone") return gone();
  if (lookup.record.closed) return closedError(lookup.record);
  if (mediaTypeOf(lookup.record.contentType) !== mediaTypeOf(contentType)) return contentTypeMismatch(lookup.record);
  return undefined;
}

// A part (between slashes, or at either end) that is empty, `.` or `..`.
const BAD_PART = /(?:^|\/)\.{0,2}(?:\/|$)/;

function checkedName(name: string): string {
  if (name.length > 1024 || BAD_PART.test(name)) {
    throw badRequest("invalid_stream_name", "a stream name is up to 1024 characters, without empty, . or .. parts");
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f]/.test(name)) throw badRequest("invalid_stream_name", "no control characters");
  return name;
}

/**
 * The stream a `PUT` forks from (`Stream-Forked-From`), by name; undefined when it forks nothing.
 * For authorization: a fork copies its source, so whoever forks must be allowed to read it.
 */
export function forkSourceOf(c: Context): string | undefined {
  const from = c.req.header("stream-forked-from");
  if (from === undefined || c.req.method !== "PUT") return undefined;
  return sourceName(c, from);
}

/** The source is named by its path on this server; the part below the streams' mount is its name. */
function sourceName(c: Context, from: string): string {
  const mount = c.req.path.slice(0, c.req.path.length - streamNameOf(c).length);
  return checkedName(from.startsWith(mount) ? from.slice(mount.length) : from.replace(/^\//, ""));
}

function forkOf(c: Context, headers: Headers): CreateRequest["fork"] {
  const from = headers.get("stream-forked-from");
  const offset = headers.get("stream-fork-offset");
  const subOffset = headers.get("stream-fork-sub-offset");
  if (from === null) {
    if (offset !== null || subOffset !== null) {
      throw badRequest("invalid_fork", "Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From");
    }
    return null;
  }
  const source = sourceName(c, from);
  let position: number | null = null;
  if (offset !== null) {
    const parsed = parseOffset(offset.trim());
    if (parsed === undefined || parsed === "tail") throw badRequest("invalid_fork", "Stream-Fork-Offset is malformed");
    // -1 forks from position 0, as the protocol's streams start there (a fork of a channel's
    // stream, whose oldest entries are dropped, names an offset instead).
    position = parsed === "start" ? 0 : parsed;
  }
  const sub = subOffset === null ? 0 : wholeNumber(subOffset.trim(), "Stream-Fork-Sub-Offset");
  if (sub > 0 && position === null) throw badRequest("invalid_fork", "a sub-offset needs Stream-Fork-Offset");
  return { from: source, position, subOffset: sub };
}

async function forkContentType(log: StreamLog, request: CreateRequest): Promise<string> {
  if (request.fork === null) return "application/octet-stream";
  const source = await log.head(request.fork.from);
  return source.kind === "found" ? source.record.contentType : "application/octet-stream";
}

function foundRecord(result: ReadResult): StreamRecord {
  switch (result.kind) {
    case "found":
      return result.record;
    case "not-found":
      throw notFound();
    case "gone":
      throw gone();
    case "beyond-tail":
      throw badRequest("invalid_offset", "the offset is past the stream's tail");
    case "trimmed":
      throw new StreamError(410, "offset_trimmed", `the stream keeps offsets from ${formatOffset(result.oldest)} on`);
  }
}

function tailHeaders(record: StreamRecord): Record<string, string> {
  const headers: Record<string, string> = { "stream-next-offset": formatOffset(record.tail) };
  if (record.closed) headers["stream-closed"] = "true";
  return headers;
}

function readAnswer(found: Extract<ReadResult, { kind: "found" }>, c: Context, cacheControl: string): Response {
  const { record, entries, next } = found;
  const atTail = next === record.tail;
  const headers = new Headers({
    "content-type": record.contentType,
    "stream-next-offset": formatOffset(next),
    "cache-control": cacheControl,
  });
  if (atTail) headers.set("stream-up-to-date", "true");
  if (atTail && record.closed) headers.set("stream-closed", "true");
  // Varies with the range and with closing, so that a 304 never hides data or the end (§10.1).
  const from = next - entries.length;
  const etag = `"${record.instance}:${from}:${next}${atTail && record.closed ? ":c" : ""}"`;
  headers.set("etag", etag);
  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch?.split(",").some((tag) => tag.trim() === etag)) {
    return new Response(null, { status: 304, headers });
  }
  const body = entries.length === 0 && !isJsonStream(record.contentType) ? null : bodyOf(entries, record.contentType);
  return new Response(body as Uint8Array<ArrayBuffer> | null, { status: 200, headers });
}

function headAnswer(lookup: Awaited<ReturnType<StreamLog["head"]>>): Response {
  if (lookup.kind === "not-found") throw notFound();
  if (lookup.kind === "gone") throw gone();
  const { record } = lookup;
  const headers = new Headers(tailHeaders(record));
  headers.set("content-type", record.contentType);
  headers.set("cache-control", "no-store");
  if (record.ttlSeconds !== null) headers.set("stream-ttl", String(record.ttlSeconds));
  if (record.expiresAt !== null) headers.set("stream-expires-at", record.expiresAt);
  return new Response(null, { status: 200, headers });
}

function appendAnswer(
  result: AppendResult,
  producer: ProducerTuple | undefined,
  written: (status: number, headers: Record<string, string>) => Response,
): Response {
  switch (result.kind) {
    case "appended": {
      const headers = tailHeaders(result.record);
      if (producer !== undefined) {
        headers["producer-epoch"] = String(producer.epoch);
        headers["producer-seq"] = String(result.producerSeq ?? producer.seq);
      }
      // 200 when a producer's request stored data; 204 for a retry, a close, or without a producer.
      return written(producer !== undefined && result.stored ? 200 : 204, headers);
    }
    case "not-found":
      throw notFound();
    case "gone":
      throw gone();
    case "closed":
      throw closedError(result.record);
    case "content-type-mismatch":
      throw contentTypeMismatch(result.record);
    case "stream-seq-conflict":
      throw new StreamError(409, "stream_seq_conflict", "Stream-Seq must be greater than the last one accepted");
    case "stale-epoch":
      throw new StreamError(403, "stale_producer_epoch", "a newer epoch of this producer writes now", {
        "producer-epoch": String(result.epoch),
      });
    case "epoch-needs-seq-zero":
      throw badRequest("invalid_producer_seq", "a new Producer-Epoch starts at Producer-Seq 0");
    case "sequence-gap":
      throw new StreamError(409, "producer_sequence_gap", `expected Producer-Seq ${result.expected}`, {
        "producer-expected-seq": String(result.expected),
        "producer-received-seq": String(result.received),
      });
    case "too-large":
      throw new StreamError(413, "stream_too_large", result.message);
  }
}

const notFound = () => new StreamError(404, "not_found", "no such stream");
const gone = () => new StreamError(410, "gone", "the stream was deleted");
// A closed stream's 409 carries Stream-Closed and its final offset (§5.2).
const closedError = (record: StreamRecord) =>
  new StreamError(409, "stream_closed", "the stream is closed", tailHeaders(record));
const contentTypeMismatch = (record: StreamRecord) =>
  new StreamError(409, "content_type_mismatch", `the stream's content type is ${record.contentType}`);
