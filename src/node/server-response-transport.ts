/**
 * Node only: writes an SSE stream straight to node:http's ServerResponse instead of through a web
 * ReadableStream. @hono/node-server copies a ReadableStream body chunk by chunk through a reader,
 * a promise per chunk; a fan-out writes millions of chunks, so the Node entry takes SSE responses
 * over (see `takeOver`) and sends them with this. Everything else about the stream (limits,
 * keep-alive, stall detection, when it ends) stays in the runtime-neutral SseStream.
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { SseStream, StreamTransport } from "../sse/index.ts";
import { chunkFrame } from "./chunk-frame.ts";

/** Sends `response`'s status and headers, then starts `stream` on the ServerResponse. */
export function startOnServerResponse(stream: SseStream, response: Response, outgoing: ServerResponse): void {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  outgoing.writeHead(response.status, headers);
  // Sent now, so that the body's chunks can go to the socket after them (see chunkedSocketOf).
  outgoing.flushHeaders();
  const socket = chunkedSocketOf(outgoing);
  const body: BodyWriter =
    socket !== undefined
      ? { write: (chunk) => socket.write(chunkFrame(chunk)), target: socket }
      : { write: (chunk) => outgoing.write(asBuffer(chunk)), target: outgoing };
  stream.start(serverResponseTransport(stream, outgoing, body));
}

/**
 * The socket to write the body's chunks to directly, framed by us (`chunkFrame`), when that is what
 * `outgoing.write` would do: its headers are on the socket, nothing of it waits in its own buffer
 * (a pipelined response waits there until the one before it ends), and its body is chunked. Each
 * `outgoing.write` corks the socket until the next tick (a `process.nextTick` per write) and sends
 * four buffers (size, CRLF, chunk, CRLF); a fan-out writes one chunk to every subscriber, so one
 * frame made once and one plain `socket.write` each cost about a fifth less CPU per delivered event
 * (bench, N = 1000). `outgoing.end()` still ends the body (its last chunk, `0` CRLF CRLF) and frees
 * the connection for its next request, as before.
 */
function chunkedSocketOf(outgoing: ServerResponse): Socket | undefined {
  const socket = outgoing.socket;
  const internals = outgoing as unknown as { chunkedEncoding?: boolean; outputData?: unknown[] };
  if (socket === null || internals.chunkedEncoding !== true || internals.outputData?.length !== 0) return undefined;
  if (!outgoing.headersSent || socket.writableEnded) return undefined;
  return socket;
}

/** Where a body's chunks go: the socket (framed by us) or the ServerResponse; `target` counts and drains. */
interface BodyWriter {
  /** False once the target's buffer is past its high-water mark. */
  write(chunk: Uint8Array): boolean;
  target: Socket | ServerResponse;
}

// Node's streams wrap every Uint8Array that is not a Buffer in a new Buffer, per write. A fan-out
// writes the same chunk to every subscriber in a row, so one remembered view serves them all.
let lastChunk: Uint8Array | undefined;
let lastBuffer: Buffer | undefined;
function asBuffer(chunk: Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk !== lastChunk) {
    lastChunk = chunk;
    lastBuffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  return lastBuffer as Buffer;
}

function serverResponseTransport(stream: SseStream, outgoing: ServerResponse, body: BodyWriter): StreamTransport {
  const { target } = body;
  let gone = false;
  // Writes since the buffer was last under its high-water mark: an upper bound on the events
  // still unread, which Node does not count (it counts bytes).
  let writesQueued = 0;
  const queued = () => {
    const bytes = target.writableLength;
    if (bytes === 0) writesQueued = 0;
    return Math.max(bytes, writesQueued * stream.minWeight);
  };
  const drained = () => {
    writesQueued = 0;
    stream.pulled();
  };
  // On the socket, which outlives this response on a keep-alive connection: removed when it ends.
  target.on("drain", drained);
  // 'close' also follows a normal end; the stream ignores it then, having closed already.
  outgoing.on("close", () => {
    gone = true;
    target.off("drain", drained);
    stream.clientLeft();
  });
  return {
    write(chunk) {
      if (gone) return -1;
      // An empty chunk would end a chunked body.
      if (chunk.byteLength === 0) return queued();
      // Under the high-water mark (16 KiB) nothing worth holding against the stream's limits
      // (1 MiB by default) waits: skip the bookkeeping on this path, the common one. The stream's
      // fits() takes this 0 as what is queued until a chunk does not fit under it (then it asks).
      if (body.write(chunk)) {
        writesQueued = 0;
        return 0;
      }
      writesQueued++;
      return queued();
    },
    queued,
    end: () => {
      gone = true;
      outgoing.end();
    },
    abort: () => {
      gone = true;
      outgoing.destroy();
    },
  };
}
