/**
 * Bodies in and out (PROTOCOL.md §9): a JSON stream's append is parsed, an array flattened one
 * level (each element a message), and kept as one entry of compact JSON messages joined by commas;
 * any other stream keeps the body's bytes. Reads give a JSON stream's messages as one array, and
 * the bytes of any other stream as they were appended.
 */
import type { Context } from "hono";
import { isJsonStream } from "../hub/stream-rules.ts";
import { concatBytes } from "../sse/encode.ts";
import { badRequest, StreamError } from "./errors.ts";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The request body, refused with 413 past `limit` bytes without reading the rest (a declared
 * Content-Length over it is refused before reading anything).
 *
 * A body with a Content-Length within the limit is read in one piece (`arrayBuffer()`): the
 * server's HTTP parser ends a body at its declared length (RFC 9112 §6.2), so the limit holds.
 * On Node that is @hono/node-server's fast path, which collects the socket's chunks into one
 * Buffer; the body's stream (`request.raw.body`) instead makes it build a whole web `Request`
 * with an `AbortSignal` and two `ReadableStream`s per request: measured with one writer, a fifth
 * of the server's busy time per append (`node --cpu-prof`). A body without a length (chunked) is
 * read by its stream, counting as it goes. `atHand` (DurableStreamsOptions.requestBody) may give a
 * body with a Content-Length as the runtime holds it (on Node, src/node/incoming-body.ts).
 */
export async function readBody(c: Context, limit: number, atHand?: RequestBody): Promise<Uint8Array> {
  const request = c.req;
  const declared = Number(request.header("content-length") ?? Number.NaN);
  if (limit > 0 && declared > limit) throw tooLarge(limit);
  if (Number.isSafeInteger(declared) && declared >= 0) {
    const held = atHand === undefined ? undefined : await atHand(c);
    if (held !== undefined) return held;
    const body = new Uint8Array(await request.arrayBuffer());
    // Never past a declared length on a server, but `app.request` takes a Request made in-process.
    if (limit > 0 && body.byteLength > limit) throw tooLarge(limit);
    return body;
  }
  const stream = request.raw.body;
  if (stream === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (limit > 0 && size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}

/**
 * A request's whole body as the runtime already holds it, or undefined to read it the standard
 * way. Called only for a request with a Content-Length within the limit.
 */
export type RequestBody = (c: Context) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

const tooLarge = (limit: number) => new StreamError(413, "body_too_large", `an append is at most ${limit} bytes`);

/**
 * The entries an append or create stores. `create`: an empty JSON array is a stream with no
 * message yet (PUT); in an append it is refused (§9.1.3).
 */
export function entriesOf(body: Uint8Array, contentType: string, create: boolean): Uint8Array[] {
  if (body.byteLength === 0) return [];
  if (!isJsonStream(contentType)) return [body];
  let value: unknown;
  let text: string;
  try {
    text = utf8Decoder.decode(body);
    value = JSON.parse(text);
  } catch {
    throw badRequest("invalid_json", "the body is not valid JSON (UTF-8)");
  }
  if (!Array.isArray(value)) {
    const compact = JSON.stringify(value);
    // Already compact (as a client's JSON.stringify sends it): its own bytes, without encoding
    // them again. Not with a byte order mark, which the text has lost.
    return [compact === text && body[0] !== 0xef ? body : utf8.encode(compact)];
  }
  if (value.length === 0) {
    if (create) return [];
    throw badRequest("invalid_body", "an append of an empty JSON array adds nothing");
  }
  let messages = JSON.stringify(value[0]);
  for (let index = 1; index < value.length; index++) messages += `,${JSON.stringify(value[index])}`;
  return [utf8.encode(messages)];
}

/** A read's body: a JSON stream's messages as one array, else the entries' bytes. */
export function bodyOf(entries: Uint8Array[], contentType: string): Uint8Array {
  if (!isJsonStream(contentType)) return concatBytes(entries);
  const parts: Uint8Array[] = [OPEN_BRACKET];
  entries.forEach((entry, index) => {
    if (index > 0) parts.push(COMMA);
    parts.push(entry);
  });
  parts.push(CLOSE_BRACKET);
  return concatBytes(parts);
}

const OPEN_BRACKET = utf8.encode("[");
const CLOSE_BRACKET = utf8.encode("]");
const COMMA = utf8.encode(",");

/** Standard base64 (RFC 4648), for binary streams over SSE (§5.8). */
export function base64Of(bytes: Uint8Array): string {
  let binary = "";
  // String.fromCharCode takes at most so many arguments on some engines: go in slices.
  for (let at = 0; at < bytes.byteLength; at += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  }
  return btoa(binary);
}
