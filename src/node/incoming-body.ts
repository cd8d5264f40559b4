/**
 * A request's body as `node:http` already holds it: for `durableStreams({ requestBody })` (and the
 * demo server's Node entry), so that an append's few bytes are taken from the IncomingMessage in
 * one `read()`. Through `@hono/node-server`'s `arrayBuffer()` they cost a promise, four listeners
 * added and removed, two ticks of the stream and a copy into a new ArrayBuffer: measured on Node 20
 * (one writer, `node --cpu-prof`), about a tenth of the CPU of an append.
 */
import type { Http2Bindings, HttpBindings } from "@hono/node-server";
import type { Context } from "hono";

/**
 * The whole body of the request `c` when `node:http` has parsed all of it (a body that came in
 * the request's first packets: any append of a few kilobytes); otherwise undefined, and the body
 * is read the standard way. Node's parser stops at the declared Content-Length, so the body is
 * never longer than the request said.
 */
export async function incomingBody(c: Context): Promise<Uint8Array | undefined> {
  const incoming = (c.env as Partial<HttpBindings | Http2Bindings> | undefined)?.incoming;
  if (incoming === undefined || !("complete" in incoming)) return undefined;
  // The handler runs when the headers are parsed. The body that came in the same packet is parsed
  // before the event loop's next phase, but not before the next microtask or tick (measured on
  // Node 20: `complete` was still false after both, true once in setImmediate).
  if (!incoming.complete) await new Promise((resolve) => setImmediate(resolve));
  // Untouched, and whole: anything else (a body still arriving, a stream already read) is left
  // to the standard path.
  if (!incoming.complete || incoming.readableDidRead || incoming.readableFlowing) return undefined;
  // All that is buffered, in one Buffer; null when the body is empty. Reading to the end emits
  // 'end', so @hono/node-server sees the body consumed and does not drain it after the answer.
  const body = incoming.read() as Uint8Array | null;
  return body ?? new Uint8Array(0);
}
