/**
 * A chunk as HTTP/1.1's chunked transfer coding sends it (RFC 9112 §7.1): its size in hex, CRLF,
 * the bytes, CRLF. A fan-out writes the same chunk to every subscriber in a row, so the last one
 * framed is remembered and its frame reused: one allocation per message, not per subscriber.
 */
import { Buffer } from "node:buffer";

let lastChunk: Uint8Array | undefined;
let lastFrame: Buffer | undefined;

/** `chunk` framed for a chunked body; `chunk` must not be empty (an empty chunk ends the body). */
export function chunkFrame(chunk: Uint8Array): Buffer {
  if (chunk === lastChunk) return lastFrame as Buffer;
  const size = chunk.byteLength.toString(16);
  const frame = Buffer.allocUnsafe(size.length + chunk.byteLength + 4);
  // Buffer#write answers how many bytes it wrote, not where it ended.
  const at = frame.write(size, 0, "latin1") + frame.write("\r\n", size.length, "latin1");
  frame.set(chunk, at);
  frame.write("\r\n", at + chunk.byteLength, "latin1");
  lastChunk = chunk;
  lastFrame = frame;
  return frame;
}
