/**
 * What a stream's object sends on a watcher's socket: one `LogChange` per binary message,
 * `[header length: uint32, little-endian][header: JSON][the appended entries' bytes, one after
 * another]`, the header holding the kind, the record and the entries' sizes. Encoded once per change
 * and sent to every watcher as it is.
 *
 * An append bigger than `MAX_NOTICE_BYTES` is told without its entries, as `from` = the new tail:
 * the watcher then knows only that the stream moved on, and reads (LogChange says a reader not at
 * `from` reads again). That keeps each socket message far below workerd's message size limit.
 */
import type { LogChange } from "../log.ts";
import type { StreamRecord } from "../stream-rules.ts";

const HEADER_LENGTH_BYTES = 4;
export const MAX_NOTICE_BYTES = 256 * 1024;

type Header =
  | { kind: "appended"; from: number; record: StreamRecord; sizes: number[] }
  | Exclude<LogChange, { kind: "appended" }>;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function encodeChange(change: LogChange): Uint8Array {
  let header: Header;
  let entries: Uint8Array[] = [];
  if (change.kind === "appended") {
    entries = change.entries;
    let bytes = 0;
    for (const entry of entries) bytes += entry.byteLength;
    if (bytes > MAX_NOTICE_BYTES) {
      entries = [];
      header = { kind: "appended", from: change.record.tail, record: change.record, sizes: [] };
    } else {
      header = { kind: "appended", from: change.from, record: change.record, sizes: entries.map((e) => e.byteLength) };
    }
  } else {
    header = change;
  }
  const json = utf8.encode(JSON.stringify(header));
  let length = HEADER_LENGTH_BYTES + json.byteLength;
  for (const entry of entries) length += entry.byteLength;
  const message = new Uint8Array(length);
  new DataView(message.buffer).setUint32(0, json.byteLength, true);
  message.set(json, HEADER_LENGTH_BYTES);
  let offset = HEADER_LENGTH_BYTES + json.byteLength;
  for (const entry of entries) {
    message.set(entry, offset);
    offset += entry.byteLength;
  }
  return message;
}

export function decodeChange(message: ArrayBuffer): LogChange {
  const jsonLength = new DataView(message).getUint32(0, true);
  const header = JSON.parse(utf8Decoder.decode(new Uint8Array(message, HEADER_LENGTH_BYTES, jsonLength))) as Header;
  if (header.kind !== "appended") return header;
  const entries: Uint8Array[] = [];
  let offset = HEADER_LENGTH_BYTES + jsonLength;
  for (const size of header.sizes) {
    entries.push(new Uint8Array(message, offset, size));
    offset += size;
  }
  return { kind: "appended", from: header.from, entries, record: header.record };
}
